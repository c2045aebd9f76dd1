package io.quantflow.bench;

import io.quantflow.core.quant.DoubleQuantizer;
import io.quantflow.core.quant.ErrorSums;
import io.quantflow.core.quant.HalfFloats;
import io.quantflow.core.quant.QuantType;
import io.quantflow.core.quant.Quantizers;
import io.quantflow.core.quant.VectorBlockwiseQuantizer;
import io.quantflow.core.safetensors.DType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The benchmarked chunked path gives the bytes of one whole-tensor reference call, on any thread count. */
class ChunkedQuantizerTest {

    @ParameterizedTest(name = "n={0} chunk={1} threads={2} vector={3}")
    @CsvSource({
            "65536, 4096, 1, false",
            "65536, 4096, 3, true",
            "70001, 4096, 2, true",   // last chunk partial, last block partial, odd count
            "70001, 4096, 4, false",
            "100, 256, 2, true",      // fewer elements than one chunk
    })
    void chunkedMatchesWholeTensorReference(int n, int chunk, int threads, boolean vector) {
        int blocksize = 64;
        QuantType type = QuantType.NF4;
        byte[] bf16 = Bf16Tensors.randomNormal(n, 0.02, n);

        float[] values = new float[n];
        HalfFloats.decodeScalar(DType.BF16, bf16, 0, n, values, 0);
        byte[] expectedPacked = new byte[(n + 1) / 2];
        float[] expectedAbsmax = new float[(n + blocksize - 1) / blocksize];
        Quantizers.scalar(type).quantize(values, 0, n, blocksize, expectedPacked, 0, expectedAbsmax, 0);
        DoubleQuantizer.Result expected = DoubleQuantizer.quantize(expectedAbsmax, expectedAbsmax.length);

        byte[] packed = new byte[(n + 1) / 2];
        float[] absmax = new float[expectedAbsmax.length];
        DoubleQuantizer.Result actual;
        try (ChunkedQuantizer q = new ChunkedQuantizer(
                vector ? ChunkedQuantizer.FAST_DECODE : ChunkedQuantizer.SCALAR_DECODE,
                vector ? new VectorBlockwiseQuantizer(type) : Quantizers.scalar(type), blocksize, chunk, threads)) {
            actual = q.quantize(bf16, n, absmax, (c, codes, length) ->
                    System.arraycopy(codes, 0, packed, c * (chunk / 2), length));
        }
        assertArrayEquals(expectedPacked, packed, "packed codes");
        assertArrayEquals(expectedAbsmax, absmax, 0f, "absmax");
        assertEquals(Float.floatToIntBits(expected.offset()), Float.floatToIntBits(actual.offset()), "offset");
        assertArrayEquals(expected.codes(), actual.codes(), "absmax codes");
        assertArrayEquals(expected.nestedAbsmax(), actual.nestedAbsmax(), 0f, "nested absmax");
    }

    /** Measuring while quantizing (errors=on in the benchmark) writes the same bytes and measures the reference's error. */
    @Test
    void measuringQuantizesTheSameAndMeasuresTheReferenceError() {
        int n = 300_001;
        int blocksize = 64;
        byte[] bf16 = Bf16Tensors.randomNormal(n, 0.02, 9);
        float[] values = new float[n];
        HalfFloats.decodeScalar(DType.BF16, bf16, 0, n, values, 0);
        ErrorSums reference = new ErrorSums();
        byte[] expectedPacked = new byte[(n + 1) / 2];
        float[] expectedAbsmax = new float[(n + blocksize - 1) / blocksize];
        Quantizers.scalar(QuantType.NF4).quantize(values, 0, n, blocksize, expectedPacked, 0, expectedAbsmax, 0, DType.BF16, reference);
        int chunk = 65536;
        // decode then quantize, and the fused quantizeBf16 (no decoder)
        for (ChunkedQuantizer.Decoder decoder : Arrays.asList(ChunkedQuantizer.FAST_DECODE, null)) {
        byte[] packed = new byte[(n + 1) / 2];
        float[] absmax = new float[expectedAbsmax.length];
        try (ChunkedQuantizer q = new ChunkedQuantizer(decoder, new VectorBlockwiseQuantizer(QuantType.NF4),
                blocksize, chunk, 2, true)) {
            q.quantize(bf16, n, absmax, (c, codes, length) -> System.arraycopy(codes, 0, packed, c * (chunk / 2), length));
            assertArrayEquals(expectedPacked, packed);
            assertArrayEquals(expectedAbsmax, absmax, 0f);
            ErrorSums e = q.error();
            assertEquals(reference.values(), e.values());
            assertEquals(reference.maxAbsError(), e.maxAbsError(), 0f);
            assertEquals(reference.squaredError(), e.squaredError(), reference.squaredError() * 1e-5);
            assertEquals(0, q.outliers().outlierBlocks());
            assertEquals(expectedAbsmax.length, q.outliers().blocks());
        }
        }
    }

    @Test
    void chunkMustBeWholeBlocks() {
        assertThrows(IllegalArgumentException.class,
                () -> new ChunkedQuantizer(ChunkedQuantizer.SCALAR_DECODE, Quantizers.scalar(QuantType.NF4), 64, 1000, 1));
    }

    @Test
    void bf16RoundsToNearestEven() {
        assertEquals((short) 0x3F80, Bf16Tensors.toBf16(1.0f));
        assertEquals((short) 0x3F80, Bf16Tensors.toBf16(Float.intBitsToFloat(0x3F80_8000)));   // tie, even stays
        assertEquals((short) 0x3F82, Bf16Tensors.toBf16(Float.intBitsToFloat(0x3F81_8000)));   // tie, odd rounds up
        assertEquals((short) 0x3F81, Bf16Tensors.toBf16(Float.intBitsToFloat(0x3F80_8001)));
    }
}
