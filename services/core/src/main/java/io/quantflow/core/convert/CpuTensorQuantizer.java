package io.quantflow.core.convert;

import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.quant.BlockwiseQuantizer;
import io.quantflow.core.quant.HalfFloats;
import io.quantflow.core.safetensors.SafetensorsFile;
import io.quantflow.core.safetensors.SafetensorsOutput;
import io.quantflow.core.safetensors.TensorInfo;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.function.LongConsumer;

/**
 * Quantizes a tensor on the CPU: block-aligned chunks of 256K values, each read, decoded to float32,
 * quantized and written by one pool thread with buffers of its own.
 */
final class CpuTensorQuantizer implements TensorQuantizer {
    /** Values per task: 512 KiB of bf16, small enough to stay in cache. */
    static final int CHUNK_ELEMENTS = 1 << 18;

    private static final ThreadLocal<Buffers> BUFFERS = ThreadLocal.withInitial(Buffers::new);

    private final BlockwiseQuantizer quantizer;
    private final ExecutorService pool;
    private final int threads;

    CpuTensorQuantizer(BlockwiseQuantizer quantizer, ExecutorService pool, int threads) {
        this.quantizer = quantizer;
        this.pool = pool;
        this.threads = threads;
    }

    @Override
    public float[] quantize(SafetensorsFile source, TensorInfo tensor, QuantOptions options, SafetensorsOutput out,
                            long packedOffset, LongConsumer progress) throws IOException {
        int bs = options.blocksize();
        long n = tensor.elements();
        long blocks = (n + bs - 1) / bs;
        if (blocks > Integer.MAX_VALUE - 8) {
            throw new QuantflowException(ErrorCode.UNSUPPORTED_MODEL, tensor.name() + " has too many elements to quantize");
        }
        float[] absmax = new float[(int) blocks];
        long chunk = Math.max(bs, (CHUNK_ELEMENTS / bs) * (long) bs);
        List<Future<?>> tasks = new ArrayList<>();
        for (long start = 0; start < n; start += chunk) {
            long s = start;
            int len = (int) Math.min(chunk, n - start);
            tasks.add(pool.submit(() -> {
                quantizeChunk(source, tensor, s, len, bs, packedOffset, absmax, out);
                progress.accept((long) len * tensor.dtype().size());
                return null;
            }));
        }
        ShardWriter.await(tasks);
        return absmax;
    }

    private void quantizeChunk(SafetensorsFile source, TensorInfo tensor, long start, int len, int bs, long packedOffset,
                               float[] absmax, SafetensorsOutput out) throws IOException {
        Buffers b = BUFFERS.get();
        int size = tensor.dtype().size();
        ByteBuffer in = b.input(len * size);
        source.read(tensor, start * size, in);
        float[] values = b.floats(len);
        HalfFloats.decode(tensor.dtype(), in.array(), 0, len, values, 0);
        byte[] packed = b.packed((len + 1) / 2);
        quantizer.quantize(values, 0, len, bs, packed, 0, absmax, (int) (start / bs));
        out.write(packedOffset + start / 2, ByteBuffer.wrap(packed, 0, (len + 1) / 2));
    }

    @Override
    public String name() {
        return "cpu " + quantizer.name() + " x " + threads + (threads == 1 ? " thread" : " threads");
    }

    /** Per-thread scratch space, grown on demand and reused. */
    private static final class Buffers {
        private ByteBuffer input = ByteBuffer.allocate(0);
        private float[] floats = new float[0];
        private byte[] packed = new byte[0];

        ByteBuffer input(int bytes) {
            if (input.capacity() < bytes) {
                input = ByteBuffer.allocate(bytes);
            }
            input.clear().limit(bytes);
            return input;
        }

        float[] floats(int n) {
            if (floats.length < n) {
                floats = new float[n];
            }
            return floats;
        }

        byte[] packed(int n) {
            if (packed.length < n) {
                packed = new byte[n];
            }
            return packed;
        }
    }
}
