package io.quantflow.core.gpu;

import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.quant.QuantType;
import io.quantflow.core.quant.TensorQuantizer;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.SafetensorsFile;
import io.quantflow.core.safetensors.SafetensorsOutput;
import io.quantflow.core.safetensors.TensorInfo;
import io.quantflow.core.safetensors.TensorSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The chunk scheduler of the GPU path, run with CPU stand-in stages. */
class ChunkPipelineTest {
    @TempDir
    Path tmp;

    private static final List<TensorSpec> SPECS = List.of(
            new TensorSpec("a", DType.BF16, new long[] {1000, 1100}),
            new TensorSpec("b", DType.F32, new long[] {33, 77}),
            new TensorSpec("c", DType.F16, new long[] {1, 1}),
            new TensorSpec("d", DType.F16, new long[] {257, 999}),
            new TensorSpec("e", DType.F32, new long[] {4096, 65}));

    private SafetensorsFile source() throws IOException {
        Path file = tmp.resolve("src.safetensors");
        TestTensors.write(file, SPECS, 11);
        return SafetensorsFile.open(file);
    }

    @ParameterizedTest(name = "{0} bs={1} chunk={2} slots={3}")
    @CsvSource({"NF4, 64, 65536, 4", "FP4, 32, 100000, 3", "NF4, 4096, 1048576, 2", "FP4, 128, 16384, 1", "NF4, 256, 4096, 8"})
    void aPassGivesTheReferenceBytes(QuantType type, int blocksize, long chunkBytes, int slots) throws IOException {
        QuantOptions options = new QuantOptions(type, false, blocksize, DType.BF16, List.of());
        try (SafetensorsFile src = source()) {
            List<TensorInfo> order = List.of(src.header().tensor("d"), src.header().tensor("a"), src.header().tensor("c"),
                    src.header().tensor("e"), src.header().tensor("b"));
            List<TestTensors.Quantized> got = TestTensors.throughPass(HeapStages.quantizer(chunkBytes, slots), src, order,
                    options, tmp.resolve("out"));
            for (int i = 0; i < order.size(); i++) {
                TestTensors.Quantized want = TestTensors.reference(src, order.get(i), type, blocksize);
                assertArrayEquals(want.packed(), got.get(i).packed(), order.get(i) + " packed");
                assertArrayEquals(TestTensors.littleEndian(want.absmax()), TestTensors.littleEndian(got.get(i).absmax()),
                        order.get(i) + " absmax");
            }
        }
    }

    @Test
    void slotsReadTheNextTensorBeforeThisOneIsWritten() throws IOException {
        QuantOptions options = new QuantOptions(QuantType.NF4, false, 64, DType.BF16, List.of());
        try (SafetensorsFile src = source(); SafetensorsOutput out = SafetensorsOutput.create(tmp.resolve("o"), 8)) {
            TensorInfo first = src.header().tensor("b");
            TensorInfo second = src.header().tensor("a");
            CountDownLatch secondRead = new CountDownLatch(1);
            HeapStages stages = new HeapStages(src, out, options, 3) {
                @Override
                public void read(int slot, TensorInfo tensor, Chunk chunk) throws IOException {
                    super.read(slot, tensor, chunk);
                    if (tensor.equals(second)) {
                        secondRead.countDown();
                    }
                }

                @Override
                public void write(int slot, Chunk chunk, long packedOffset, float[] absmax) throws IOException {
                    if (chunk.tensor() == 0) {
                        try {
                            assertTrue(secondRead.await(10, TimeUnit.SECONDS), "no chunk of the next tensor was read ahead");
                        } catch (InterruptedException e) {
                            throw new IOException(e);
                        }
                    }
                    super.write(slot, chunk, packedOffset, absmax);
                }
            };
            try (ChunkPipeline p = new ChunkPipeline(List.of(first, second), 64, 1 << 16, 3, stages, n -> { }, "t")) {
                assertEquals((first.elements() + 63) / 64, p.quantize(first, 0).length);
                assertEquals(0, secondRead.getCount());
                p.quantize(second, 10_000);
            }
        }
    }

    @Test
    void noMoreChunksAreHeldThanThereAreSlots() throws IOException {
        QuantOptions options = new QuantOptions(QuantType.FP4, false, 32, DType.BF16, List.of());
        AtomicInteger held = new AtomicInteger();
        AtomicInteger most = new AtomicInteger();
        try (SafetensorsFile src = source(); SafetensorsOutput out = SafetensorsOutput.create(tmp.resolve("o"), 8)) {
            HeapStages stages = new HeapStages(src, out, options, 3) {
                @Override
                public void read(int slot, TensorInfo tensor, Chunk chunk) throws IOException {
                    most.accumulateAndGet(held.incrementAndGet(), Math::max);
                    super.read(slot, tensor, chunk);
                }

                @Override
                public void write(int slot, Chunk chunk, long packedOffset, float[] absmax) throws IOException {
                    super.write(slot, chunk, packedOffset, absmax);
                    held.decrementAndGet();
                }
            };
            List<TensorInfo> order = src.header().tensors().stream().toList();
            try (ChunkPipeline p = new ChunkPipeline(order, 32, 1 << 14, 3, stages, n -> { }, "t")) {
                assertTrue(p.chunks().size() > 50);
                long at = 0;
                for (TensorInfo t : order) {
                    p.quantize(t, at);
                    at += (t.elements() + 1) / 2;
                }
            }
        }
        assertTrue(most.get() <= 3 && most.get() >= 2, "chunks held at once: " + most.get());
    }

    @Test
    void aFailingReadFailsTheTensorAndClosingDoesNotHang() throws IOException {
        QuantOptions options = new QuantOptions(QuantType.NF4, true, 64, DType.BF16, List.of());
        try (SafetensorsFile src = source(); SafetensorsOutput out = SafetensorsOutput.create(tmp.resolve("o"), 8)) {
            AtomicInteger reads = new AtomicInteger();
            HeapStages stages = new HeapStages(src, out, options, 4) {
                @Override
                public void read(int slot, TensorInfo tensor, Chunk chunk) throws IOException {
                    if (reads.incrementAndGet() == 5) {
                        throw new IOException("disk on fire");
                    }
                    super.read(slot, tensor, chunk);
                }
            };
            TensorInfo a = src.header().tensor("a");
            assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
                ChunkPipeline p = new ChunkPipeline(List.of(a, src.header().tensor("d")), 64, 1 << 16, 4, stages, n -> { }, "t");
                IOException e = assertThrows(IOException.class, () -> p.quantize(a, 0));
                assertEquals("disk on fire", e.getMessage());
                p.close();
            });
        }
    }

    @Test
    void tensorsMustComeInTheOrderOfThePassAndClosingAbandonsTheRest() throws IOException {
        QuantOptions options = new QuantOptions(QuantType.NF4, false, 64, DType.BF16, List.of());
        try (SafetensorsFile src = source(); SafetensorsOutput out = SafetensorsOutput.create(tmp.resolve("o"), 8)) {
            List<TensorInfo> order = List.of(src.header().tensor("b"), src.header().tensor("a"), src.header().tensor("d"));
            TensorQuantizer q = HeapStages.quantizer(1 << 12, 2);
            assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
                try (TensorQuantizer.Pass p = q.open(src, order, options, out, n -> { })) {
                    assertThrows(IllegalArgumentException.class, () -> p.quantize(order.get(1), 0));
                    p.quantize(order.get(0), 0);
                }
            });
        }
    }
}
