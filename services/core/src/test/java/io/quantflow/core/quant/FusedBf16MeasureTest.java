package io.quantflow.core.quant;

import io.quantflow.core.safetensors.DType;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * {@link BlockwiseQuantizer#quantizeBf16(byte[], int, int, int, byte[], int, float[], int, DType, ErrorSums)},
 * the fused decode, quantize and measure: on awkward lengths, odd byte offsets, every input kind (NaN,
 * infinities, zero blocks, huge and tiny absmax) and every blocksize (and two the vector code does not
 * take), the Vector API path and the default give
 * <ul>
 *   <li>the bytes and absmax the scalar reference gives for the decoded values;</li>
 *   <li>the error sums the float entry point gives for the decoded values (the same terms in the same
 *       groups; the order in which a lane-wise sum is reduced is not fixed, so within the same tolerance), the
 *       count and the largest error exactly;</li>
 *   <li>sums within {@link QuantErrors#sumTolerance} of the reference measure, the largest error bit for bit;</li>
 * </ul>
 * and write nothing outside their output ranges.
 */
class FusedBf16MeasureTest {
    private static final int[] SIZES = {1, 2, 3, 31, 33, 63, 64, 65, 127, 207, 702, 4095, 4097, 20011, 70001};
    private static final int[] SRC_OFFS = {0, 1, 6, 13};
    private static final byte SENTINEL = (byte) 0x5A;

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        int[] blocksizes = Arrays.copyOf(QuantizerEquivalenceTest.BLOCKSIZES, QuantizerEquivalenceTest.BLOCKSIZES.length + 2);
        blocksizes[blocksizes.length - 2] = 16;
        blocksizes[blocksizes.length - 1] = 8192;
        for (QuantType q : QuantType.values()) {
            for (QuantizerEquivalenceTest.Input kind : QuantizerEquivalenceTest.Input.values()) {
                for (int bs : blocksizes) {
                    out.add(Arguments.of(q, kind, bs));
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} {1} blocksize {2}")
    @MethodSource("cases")
    void fusedMeasureGivesTheFloatPathsBytesAndSums(QuantType q, QuantizerEquivalenceTest.Input kind, int blocksize) {
        BlockwiseQuantizer scalar = Quantizers.scalar(q);
        BlockwiseQuantizer vector = new VectorBlockwiseQuantizer(q);
        Random rnd = new Random(29L * q.ordinal() + 131L * kind.ordinal() + blocksize);
        for (int n : SIZES) {
            float[] x = QuantizerEquivalenceTest.make(kind, n, blocksize, rnd);
            int srcOff = SRC_OFFS[rnd.nextInt(SRC_OFFS.length)];
            byte[] bf16 = new byte[srcOff + 2 * n + 5];
            rnd.nextBytes(bf16);
            for (int i = 0; i < n; i++) {
                // truncate (not round) so NaN payloads and signs survive into the bf16 bytes
                int b = Float.floatToRawIntBits(x[i]) >>> 16;
                bf16[srcOff + 2 * i] = (byte) b;
                bf16[srcOff + 2 * i + 1] = (byte) (b >>> 8);
            }
            float[] decoded = new float[n];
            HalfFloats.decodeScalar(DType.BF16, bf16, srcOff, n, decoded, 0);
            DType dtype = List.of(DType.BF16, DType.F16, DType.F32).get(rnd.nextInt(3));
            String where = q + " " + kind + " n=" + n + " blocksize=" + blocksize + " srcOff=" + srcOff + " dtype=" + dtype;

            int blocks = (n + blocksize - 1) / blocksize;
            byte[] expectedPacked = new byte[(n + 1) / 2];
            float[] expectedAbsmax = new float[blocks];
            ErrorSums reference = new ErrorSums();
            scalar.quantize(decoded, 0, n, blocksize, expectedPacked, 0, expectedAbsmax, 0, dtype, reference);

            for (BlockwiseQuantizer quantizer : new BlockwiseQuantizer[] {vector, scalar}) {
                String who = where + " " + quantizer.name();
                ErrorSums floatPath = new ErrorSums();
                quantizer.quantize(decoded, 0, n, blocksize, new byte[(n + 1) / 2], 0, new float[blocks], 0, dtype, floatPath);

                int packedOff = 3;
                int absmaxOff = 2;
                byte[] packed = new byte[packedOff + (n + 1) / 2 + 9];
                float[] absmax = new float[absmaxOff + blocks + 3];
                Arrays.fill(packed, SENTINEL);
                Arrays.fill(absmax, -3.5f);
                ErrorSums fused = new ErrorSums();
                quantizer.quantizeBf16(bf16, srcOff, n, blocksize, packed, packedOff, absmax, absmaxOff, dtype, fused);

                assertArrayEquals(expectedPacked, Arrays.copyOfRange(packed, packedOff, packedOff + (n + 1) / 2),
                        who + ": packed codes");
                assertArrayEquals(QuantizerEquivalenceTest.bits(expectedAbsmax),
                        QuantizerEquivalenceTest.bits(Arrays.copyOfRange(absmax, absmaxOff, absmaxOff + blocks)), who + ": absmax");
                for (int i = 0; i < packed.length; i++) {
                    if (i < packedOff || i >= packedOff + (n + 1) / 2) {
                        assertEquals(SENTINEL, packed[i], who + ": wrote packed byte " + i);
                    }
                }
                for (int i = 0; i < absmax.length; i++) {
                    if (i < absmaxOff || i >= absmaxOff + blocks) {
                        assertEquals(-3.5f, absmax[i], who + ": wrote absmax " + i);
                    }
                }

                double tol = QuantErrors.sumTolerance(blocksize, VectorBlockwiseQuantizer.lanes());
                assertEquals(floatPath.values(), fused.values(), who + ": values");
                assertEquals(Float.floatToIntBits(floatPath.maxAbsError()), Float.floatToIntBits(fused.maxAbsError()),
                        who + ": largest error");
                // the same terms in the same groups; the order of a lane-wise add's reduction is not fixed
                // (it differs between the interpreter and compiled code), hence a tolerance, not equality
                QuantErrorsTest.assertClose(floatPath.squaredError(), fused.squaredError(), tol, who + ": squared error vs float path");
                QuantErrorsTest.assertClose(floatPath.squaredValue(), fused.squaredValue(), tol, who + ": squared values vs float path");

                assertEquals(reference.values(), fused.values(), who + ": values");
                assertEquals(Float.floatToIntBits(reference.maxAbsError()), Float.floatToIntBits(fused.maxAbsError()),
                        who + ": largest error " + reference.maxAbsError() + " vs " + fused.maxAbsError());
                QuantErrorsTest.assertClose(reference.squaredError(), fused.squaredError(), tol, who + ": squared error");
                QuantErrorsTest.assertClose(reference.squaredValue(), fused.squaredValue(), tol, who + ": squared values");
            }
        }
    }
}
