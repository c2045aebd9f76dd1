package io.quantflow.core.gpu;

import io.quantflow.core.safetensors.TensorInfo;

import java.util.ArrayList;
import java.util.List;

/**
 * Cuts the tensors of a pass into chunks of at most {@code chunkBytes} of source, each a whole
 * number of blocks, in pass order: the order in which they are read, quantized and written.
 */
public final class ChunkPlan {
    private ChunkPlan() {
    }

    /** The most elements of {@code elementSize} bytes a chunk of {@code chunkBytes} holds: whole blocks, at least one. */
    public static int chunkElements(long chunkBytes, int elementSize, int blocksize) {
        long blocks = Math.max(1, chunkBytes / elementSize / blocksize);
        return Math.toIntExact(Math.min(blocks * blocksize, (Integer.MAX_VALUE / blocksize - 1) * (long) blocksize));
    }

    public static List<Chunk> of(List<TensorInfo> tensors, int blocksize, long chunkBytes) {
        List<Chunk> chunks = new ArrayList<>();
        for (int i = 0; i < tensors.size(); i++) {
            TensorInfo t = tensors.get(i);
            long n = t.elements();
            int step = chunkElements(chunkBytes, t.dtype().size(), blocksize);
            for (long first = 0; first < n; first += step) {
                chunks.add(new Chunk(i, first, (int) Math.min(step, n - first)));
            }
        }
        return chunks;
    }
}
