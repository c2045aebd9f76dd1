package io.quantflow.core.gpu;

import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.quant.QuantType;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.SafetensorsFile;
import io.quantflow.core.safetensors.SafetensorsOutput;
import io.quantflow.core.safetensors.TensorInfo;
import io.quantflow.core.safetensors.TensorSpec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The GPU quantizer against the scalar reference, byte for byte: both kernel variants, every dtype,
 * both quant types, every blocksize, awkward shapes (1 value, odd counts, partial last blocks, tensors of many
 * chunks), special values, and passes of several tensors through few small slots.
 */
@Tag("gpu")
class GpuQuantizerTest {
    @TempDir
    static Path tmp;
    static GpuTensorQuantizer small;
    static GpuTensorQuantizer standard;

    @BeforeAll
    static void open() {
        small = GpuTensorQuantizer.open(1L << 20, 3, 2);
        standard = GpuTensorQuantizer.open(GpuTensorQuantizer.DEFAULT_CHUNK_BYTES, GpuTensorQuantizer.DEFAULT_SLOTS, 1);
    }

    @AfterAll
    static void close() {
        if (small != null) {
            small.close();
        }
        if (standard != null) {
            standard.close();
        }
    }

    private static List<TensorSpec> shapes(DType d) {
        return List.of(
                new TensorSpec("t.a", d, new long[] {1, 1}),
                new TensorSpec("t.b", d, new long[] {3, 5}),
                new TensorSpec("t.c", d, new long[] {33, 77}),
                new TensorSpec("t.d", d, new long[] {1000, 1100}),
                new TensorSpec("t.e", d, new long[] {4097, 513}),
                new TensorSpec("t.f", d, new long[] {7, 64}),
                new TensorSpec("t.g", d, new long[] {1, 4095}));
    }

    @Test
    void everyDtypeTypeAndBlocksizeGivesTheReferenceBytes() throws IOException {
        List<String> failures = new ArrayList<>();
        int cases = 0;
        for (DType d : new DType[] {DType.BF16, DType.F16, DType.F32}) {
            Path file = tmp.resolve("src-" + d + ".safetensors");
            TestTensors.write(file, shapes(d), d.ordinal() * 7919L);
            try (SafetensorsFile src = SafetensorsFile.open(file)) {
                List<TensorInfo> order = src.header().tensors().stream().toList();
                for (QuantType type : QuantType.values()) {
                    for (int bs = QuantOptions.MIN_BLOCKSIZE; bs <= QuantOptions.MAX_BLOCKSIZE; bs *= 2) {
                        QuantOptions options = new QuantOptions(type, false, bs, DType.BF16, List.of());
                        for (GpuTensorQuantizer gpu : List.of(small, standard)) {
                        List<TestTensors.Quantized> got = TestTensors.throughPass(gpu, src, order, options, tmp.resolve("out"));
                        for (int i = 0; i < order.size(); i++) {
                            cases++;
                            TestTensors.Quantized want = TestTensors.reference(src, order.get(i), type, bs);
                            String what = d + " " + type + " bs" + bs + " " + order.get(i) + " " + gpu.name();
                            if (!Arrays.equals(want.packed(), got.get(i).packed())) {
                                failures.add(what + ": packed differs at byte " + Arrays.mismatch(want.packed(), got.get(i).packed()));
                            }
                            if (!Arrays.equals(TestTensors.littleEndian(want.absmax()), TestTensors.littleEndian(got.get(i).absmax()))) {
                                failures.add(what + ": absmax differs at block " + Arrays.mismatch(want.absmax(), got.get(i).absmax()));
                            }
                        }
                        }
                    }
                }
            }
        }
        assertTrue(failures.isEmpty(), failures.size() + " of " + cases + " tensors differ: " + String.join("; ", failures.subList(0, Math.min(20, failures.size()))));
    }

    @Test
    void singleTensorCallsGiveTheSameBytes() throws IOException {
        Path file = tmp.resolve("single.safetensors");
        TestTensors.write(file, List.of(new TensorSpec("w", DType.BF16, new long[] {2049, 4099})), 5);
        try (SafetensorsFile src = SafetensorsFile.open(file);
             var out = SafetensorsOutput.create(tmp.resolve("single.out"), 8)) {
            TensorInfo t = src.header().tensor("w");
            float[] absmax = small.quantize(src, t, new QuantOptions(QuantType.NF4, true, 64, DType.BF16, List.of()), out, 0, n -> { });
            TestTensors.Quantized want = TestTensors.reference(src, t, QuantType.NF4, 64);
            assertArrayEquals(TestTensors.littleEndian(want.absmax()), TestTensors.littleEndian(absmax));
        }
    }
}
