package io.quantflow.core.quant;

import io.quantflow.core.safetensors.DType;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Arrays;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@link BlockwiseQuantizer#quantizeBf16}, the fused decode: the Vector API path and the default
 * (scalar decode, then quantize) give the bytes the scalar reference gives for the decoded values,
 * on awkward lengths, odd byte offsets into the source, every input kind (NaN with payloads and
 * either sign included) and every tested blocksize, and write nothing outside their output ranges.
 */
class FusedBf16QuantizeTest {
    private static final int[] SIZES = {1, 2, 3, 31, 33, 63, 64, 65, 127, 207, 702, 4095, 4097, 20011};
    private static final int[] SRC_OFFS = {0, 1, 6, 13};
    private static final byte SENTINEL = (byte) 0x5A;

    static Stream<Arguments> cases() {
        return QuantizerEquivalenceTest.cases();
    }

    @ParameterizedTest(name = "{0} {1} blocksize {2}")
    @MethodSource("cases")
    void fusedDecodeGivesTheReferenceBytes(QuantType q, QuantizerEquivalenceTest.Input kind, int blocksize) {
        BlockwiseQuantizer scalar = Quantizers.scalar(q);
        BlockwiseQuantizer vector = new VectorBlockwiseQuantizer(q);
        Random rnd = new Random(17L * q.ordinal() + 101L * kind.ordinal() + blocksize);
        for (int n : SIZES) {
            float[] x = QuantizerEquivalenceTest.make(kind, n, blocksize, rnd);
            int srcOff = SRC_OFFS[rnd.nextInt(SRC_OFFS.length)];
            byte[] bf16 = new byte[srcOff + 2 * n + 5];
            rnd.nextBytes(bf16);
            for (int i = 0; i < n; i++) {
                // truncate (not round) so NaN payloads and signs survive into the bf16 bytes
                int b = Float.floatToRawIntBits(x[i]) >>> 16;
                if (rnd.nextInt(16) == 0) {
                    b ^= 1;
                }
                bf16[srcOff + 2 * i] = (byte) b;
                bf16[srcOff + 2 * i + 1] = (byte) (b >>> 8);
            }
            float[] decoded = new float[n];
            HalfFloats.decodeScalar(DType.BF16, bf16, srcOff, n, decoded, 0);
            String where = q + " " + kind + " n=" + n + " blocksize=" + blocksize + " srcOff=" + srcOff;

            int blocks = (n + blocksize - 1) / blocksize;
            byte[] expectedPacked = new byte[(n + 1) / 2];
            float[] expectedAbsmax = new float[blocks];
            scalar.quantize(decoded, 0, n, blocksize, expectedPacked, 0, expectedAbsmax, 0);

            for (BlockwiseQuantizer quantizer : new BlockwiseQuantizer[] {vector, scalar}) {
                int packedOff = 3;
                int absmaxOff = 2;
                byte[] packed = new byte[packedOff + (n + 1) / 2 + 9];
                float[] absmax = new float[absmaxOff + blocks + 3];
                Arrays.fill(packed, SENTINEL);
                Arrays.fill(absmax, -3.5f);
                quantizer.quantizeBf16(bf16, srcOff, n, blocksize, packed, packedOff, absmax, absmaxOff);
                assertArrayEquals(expectedPacked, Arrays.copyOfRange(packed, packedOff, packedOff + (n + 1) / 2),
                        where + " " + quantizer.name() + ": packed codes");
                assertArrayEquals(QuantizerEquivalenceTest.bits(expectedAbsmax),
                        QuantizerEquivalenceTest.bits(Arrays.copyOfRange(absmax, absmaxOff, absmaxOff + blocks)),
                        where + " " + quantizer.name() + ": absmax");
                for (int i = 0; i < packed.length; i++) {
                    if (i < packedOff || i >= packedOff + (n + 1) / 2) {
                        assertEquals(SENTINEL, packed[i], where + ": wrote packed byte " + i);
                    }
                }
                for (int i = 0; i < absmax.length; i++) {
                    if (i < absmaxOff || i >= absmaxOff + blocks) {
                        assertEquals(-3.5f, absmax[i], where + ": wrote absmax " + i);
                    }
                }
            }
        }
    }
}
