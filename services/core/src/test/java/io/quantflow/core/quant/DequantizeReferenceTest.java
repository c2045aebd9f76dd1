package io.quantflow.core.quant;

import io.quantflow.core.safetensors.DType;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The reference dequantization and the float32 to 16-bit rounding the GPU kernel is held to. */
class DequantizeReferenceTest {

    @Test
    void bf16RoundsToNearestEvenAndNaNIsOneQuietNaN() {
        assertEquals(0x3f80, HalfFloats.toBf16(1.0f));
        assertEquals(0x3f80, HalfFloats.toBf16(Float.intBitsToFloat(0x3f808000))); // tie, to even (down)
        assertEquals(0x3f82, HalfFloats.toBf16(Float.intBitsToFloat(0x3f818000))); // tie, to even (up)
        assertEquals(0x3f81, HalfFloats.toBf16(Float.intBitsToFloat(0x3f808001)));
        assertEquals(0x7f80, HalfFloats.toBf16(Float.MAX_VALUE));
        assertEquals(0xff80, HalfFloats.toBf16(Float.NEGATIVE_INFINITY));
        assertEquals(0x8000, HalfFloats.toBf16(-0.0f));
        assertEquals(0x7fc0, HalfFloats.toBf16(Float.intBitsToFloat(0xffc00001)));
    }

    @Test
    void encodeThenDecodeIsExactForRepresentableValues() {
        Random rnd = new Random(3);
        for (DType d : new DType[] {DType.BF16, DType.F16, DType.F32}) {
            float[] x = new float[4096];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) rnd.nextGaussian();
            }
            byte[] b = new byte[x.length * d.size()];
            HalfFloats.encode(d, x, 0, x.length, b, 0);
            float[] y = new float[x.length];
            HalfFloats.decode(d, b, 0, x.length, y, 0);
            byte[] again = new byte[b.length];
            HalfFloats.encode(d, y, 0, y.length, again, 0);
            assertEquals(Arrays.toString(b), Arrays.toString(again), d.name());
        }
    }

    @Test
    void dequantizedValuesAreCodeValueTimesAbsmax() {
        byte[] packed = {(byte) 0xF0, (byte) 0x7A};
        float[] absmax = {2.0f};
        float[] out = new float[3];
        BlockwiseDequantizer.dequantize(QuantType.NF4, packed, absmax, 3, 64, out);
        assertEquals(2.0f, out[0]);
        assertEquals(-2.0f, out[1]);
        assertEquals(0.0f, out[2]);
    }
}
