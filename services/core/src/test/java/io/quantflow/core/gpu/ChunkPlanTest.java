package io.quantflow.core.gpu;

import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.TensorInfo;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ChunkPlanTest {
    private static TensorInfo tensor(String name, DType d, long... shape) {
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        return new TensorInfo(name, d, shape, 0, n * d.size());
    }

    @Test
    void chunksAreWholeBlocksAndCoverEveryTensorOnceInOrder() {
        List<TensorInfo> tensors = List.of(tensor("a", DType.BF16, 4096, 1100), tensor("b", DType.F32, 33, 77),
                tensor("c", DType.F16, 1, 1), tensor("d", DType.F32, 3000, 999));
        for (int bs : new int[] {32, 64, 256, 4096}) {
            for (long chunkBytes : new long[] {1 << 16, 1 << 20, 3 << 20}) {
                List<Chunk> chunks = ChunkPlan.of(tensors, bs, chunkBytes);
                int tensor = 0;
                long next = 0;
                for (Chunk c : chunks) {
                    if (c.tensor() != tensor) {
                        assertEquals(tensors.get(tensor).elements(), next, "tensor " + tensor + " fully covered");
                        assertEquals(tensor + 1, c.tensor(), "tensors in order");
                        tensor = c.tensor();
                        next = 0;
                    }
                    assertEquals(next, c.first(), "no gap, no overlap");
                    assertEquals(0, c.first() % bs, "starts on a block");
                    long n = tensors.get(c.tensor()).elements();
                    boolean last = c.first() + c.length() == n;
                    assertTrue(last || c.length() % bs == 0, "only the last chunk ends inside a block");
                    assertTrue(last || c.length() % 2 == 0, "only the last chunk is odd");
                    int size = tensors.get(c.tensor()).dtype().size();
                    assertTrue((long) c.length() * size <= Math.max(chunkBytes, (long) bs * size), "within the chunk size");
                    assertEquals(0, c.packedOffset() * 2 - c.first());
                    next += c.length();
                }
                assertEquals(tensors.size() - 1, tensor);
                assertEquals(tensors.get(tensor).elements(), next);
            }
        }
    }

    @Test
    void aChunkHoldsAtLeastOneBlockAndAsManyWholeBlocksAsFit() {
        assertEquals(4096, ChunkPlan.chunkElements(100, 4, 4096));
        assertEquals(16 << 20 >> 1, ChunkPlan.chunkElements(16 << 20, 2, 64));
        assertEquals((16 << 20) / 4, ChunkPlan.chunkElements(16 << 20, 4, 4096));
        assertEquals(448, ChunkPlan.chunkElements(1000, 2, 64));
        Chunk c = new Chunk(0, 4096, 4097);
        assertEquals(2049, c.packedBytes());
        assertEquals(2, c.blocks(4096));
        assertEquals(1, c.firstBlock(4096));
    }
}
