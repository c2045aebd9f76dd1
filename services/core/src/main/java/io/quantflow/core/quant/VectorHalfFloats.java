package io.quantflow.core.quant;

import io.quantflow.core.safetensors.DType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The Vector API BF16 decode: per step, the bytes of one float vector's worth of bf16 values are
 * loaded, read as 16-bit lanes (little-endian, as the file stores them), widened to 32-bit lanes and
 * shifted into the upper half. The widening sign-extends, which the shift discards, so the result is
 * exactly {@code bits << 16}: the scalar reference's. The tail shorter than a vector goes through the
 * scalar code. Only referenced once {@link HalfFloats} has seen that the incubator module is present.
 */
final class VectorHalfFloats {
    private static final VectorSpecies<Integer> I = VectorLanes.FLOAT.withLanes(int.class);
    private static final int L = I.length();
    /** Half the bits of {@link #I}: L bf16 values, as bytes and as 16-bit lanes. */
    private static final VectorShape HALF = VectorShape.forBitSize(L * 16);
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_PREFERRED.withShape(HALF);

    private VectorHalfFloats() {
    }

    static String name() {
        return "vector-" + I.vectorBitSize();
    }

    static void decodeBf16(byte[] src, int srcOff, int n, float[] dst, int dstOff) {
        int i = 0;
        int bound = n - L;
        for (; i <= bound; i += L) {
            ShortVector bf16 = ByteVector.fromArray(B, src, srcOff + 2 * i).reinterpretAsShorts();
            IntVector wide = (IntVector) bf16.convertShape(VectorOperators.S2I, I, 0);
            wide.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats().intoArray(dst, dstOff + i);
        }
        HalfFloats.decodeBf16Scalar(src, srcOff + 2 * i, n - i, dst, dstOff + i);
    }

    /**
     * Rounds float32 lanes to bf16 (nearest, ties to even; NaN kept quiet with its sign) and returns
     * the result's 32-bit lanes with the bf16 bits in the upper half: the same integer arithmetic as
     * {@link DtypeEncoding#bf16Bits}, lane-wise.
     */
    private static IntVector bf16Upper(IntVector bits) {
        IntVector rounded = bits.add(bits.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000);
        IntVector quiet = bits.or(0x00400000).and(0xFFFF0000);
        return rounded.blend(quiet, bits.and(0x7FFFFFFF).compare(VectorOperators.GT, 0x7F800000));
    }

    /** Rounds {@code v[off..off+n)} to bf16 in place. */
    static void roundBf16(float[] v, int off, int n) {
        VectorSpecies<Float> f = I.withLanes(float.class);
        int i = 0;
        int bound = n - L;
        for (; i <= bound; i += L) {
            IntVector bits = FloatVector.fromArray(f, v, off + i).reinterpretAsInts();
            bf16Upper(bits).reinterpretAsFloats().intoArray(v, off + i);
        }
        for (; i < n; i++) {
            v[off + i] = DtypeEncoding.round(DType.BF16, v[off + i]);
        }
    }

    /** Writes {@code v[off..off+n)} as little-endian bf16 bytes. */
    static void encodeBf16(float[] v, int off, int n, byte[] dst, int dstOff) {
        VectorSpecies<Float> f = I.withLanes(float.class);
        VectorSpecies<Short> s = ShortVector.SPECIES_PREFERRED.withShape(HALF);
        int i = 0;
        int bound = n - L;
        for (; i <= bound; i += L) {
            IntVector bits = FloatVector.fromArray(f, v, off + i).reinterpretAsInts();
            IntVector upper = bf16Upper(bits).lanewise(VectorOperators.LSHR, 16);
            ((ShortVector) upper.convertShape(VectorOperators.I2S, s, 0)).reinterpretAsBytes().intoArray(dst, dstOff + 2 * i);
        }
        DtypeEncoding.encodeScalar(DType.BF16, v, off + i, n - i, dst, dstOff + 2 * i);
    }
}
