package io.quantflow.core.format.ct;

import io.quantflow.core.Fixtures;
import io.quantflow.core.format.WeightCodec;
import io.quantflow.core.quality.MeasuredTensor;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.SafetensorsFile;
import io.quantflow.core.safetensors.TensorInfo;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The three compressed-tensors codecs against scripts/reference/ct_reference.py (compressed-tensors' order of
 * operations in torch's own CPU ops and casts): byte for byte on random weights of an awkward shape (203 x 336: a
 * partial 128 x 128 block in both directions) in bf16, f16 and f32, with a zero row, a row of tiny values and an
 * outlier, chunked several ways; and the dequantized values within each scheme's error of the 16-bit ones.
 */
class CtCodecTest {
    private static final ExecutorService POOL = Executors.newFixedThreadPool(3);
    private static final String W = "layer.mlp.down_proj.weight";

    @AfterAll
    static void stop() {
        POOL.shutdownNow();
    }

    @Test
    void fp8CastMatchesTorchOnEveryBf16() {
        try (SafetensorsFile f = SafetensorsFile.open(CtReference.file("every-bf16.safetensors"))) {
            float[] v = Fixtures.floats(f, "values");
            byte[] fp8 = Fixtures.bytes(f, "fp8");
            byte[] fp4 = Fixtures.bytes(f, "fp4");
            for (int i = 0; i < v.length; i++) {
                float c = Math.max(-Fp8E4m3.MAX, Math.min(Fp8E4m3.MAX, v[i]));
                assertEquals(fp8[i] & 0xff, Fp8E4m3.encode(c), "fp8 of " + v[i]);
                if (!Float.isNaN(Fp8E4m3.decode(fp8[i]))) {
                    assertEquals(Fp8E4m3.decode(fp8[i]), Fp8E4m3.decode(Fp8E4m3.encode(Fp8E4m3.decode(fp8[i]))));
                }
            }
            for (int i = 0; i < v.length; i += 2) {
                int lo = Fp4E2m1.code(Math.max(-6f, Math.min(6f, v[i])));
                int hi = Fp4E2m1.code(Math.max(-6f, Math.min(6f, v[i + 1])));
                assertEquals(fp4[i / 2] & 0xff, lo | hi << 4, "fp4 of " + v[i] + ", " + v[i + 1]);
            }
        }
    }

    enum Case {
        BF16_DYNAMIC(DType.BF16, CtScheme.FP8_DYNAMIC), F16_DYNAMIC(DType.F16, CtScheme.FP8_DYNAMIC), F32_DYNAMIC(DType.F32, CtScheme.FP8_DYNAMIC),
        BF16_BLOCK(DType.BF16, CtScheme.FP8_BLOCK), F16_BLOCK(DType.F16, CtScheme.FP8_BLOCK), F32_BLOCK(DType.F32, CtScheme.FP8_BLOCK),
        BF16_NVFP4(DType.BF16, CtScheme.NVFP4A16), F16_NVFP4(DType.F16, CtScheme.NVFP4A16), F32_NVFP4(DType.F32, CtScheme.NVFP4A16);

        final DType dtype;
        final CtScheme scheme;

        Case(DType dtype, CtScheme scheme) {
            this.dtype = dtype;
            this.scheme = scheme;
        }
    }

    @ParameterizedTest
    @EnumSource(Case.class)
    void randomWeightMatchesReference(Case c) throws Exception {
        String file = "random-" + switch (c.dtype) {
            case BF16 -> "bf16";
            case F16 -> "f16";
            default -> "f32";
        } + ".safetensors";
        try (SafetensorsFile f = SafetensorsFile.open(CtReference.file(file))) {
            TensorInfo src = f.header().tensor(W);
            float[] x = CtReference.decode(c.dtype, Fixtures.bytes(f, W));
            for (long preferred : new long[] {1, 5000, 1 << 18}) {
                WeightCodec codec = c.scheme.codec();
                CtReference.Encoded e = CtReference.encode(codec, c.dtype, Map.of(W, x), Map.of(W, src.shape()), preferred, POOL);
                for (Map.Entry<String, byte[]> t : e.tensors().entrySet()) {
                    String ref = c.scheme.name() + "." + t.getKey();
                    assertEquals(f.header().tensor(ref).dtype(), codec.weight(W, c.dtype, src.shape()).specs(0).stream()
                            .filter(s -> s.name().equals(t.getKey())).findFirst().orElseThrow().dtype(), ref);
                    assertArrayEquals(Fixtures.bytes(f, ref), t.getValue(), ref + " chunked near " + preferred);
                }
                assertEquals(f.header().tensors().stream().filter(t -> t.name().startsWith(c.scheme.name() + ".")).count(),
                        e.tensors().size());
                MeasuredTensor m = e.measured().get(W);
                double rms = m.error().relativeRms();
                // the decoder's own measure, from the written bytes
                double decoded = CtDecoder.relativeRms(c.scheme, c.dtype, e.tensors(), W, src.shape(), x);
                assertEquals(decoded, rms, 1e-9 + rms * 1e-5, "measured error is the decoder's (float lanes on the vector path)");
                assertTrue(rms < bound(c.scheme), c + ": relative RMS " + rms);
            }
        }
    }

    /** FP8 E4M3 keeps 3 mantissa bits (relative error <= 2^-4 a value, RMS about 2^-6); FP4 E2M1 one, in groups of 16. */
    static double bound(CtScheme s) {
        return switch (s) {
            case FP8_DYNAMIC, FP8_BLOCK -> 0.04;
            case NVFP4A16 -> 0.2;
        };
    }
}
