package io.quantflow.core.gpu;

import io.quantflow.core.quant.HalfFloats;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.quant.QuantType;
import io.quantflow.core.quant.ScalarBlockwiseQuantizer;
import io.quantflow.core.quant.TensorQuantizer;
import io.quantflow.core.safetensors.SafetensorsFile;
import io.quantflow.core.safetensors.SafetensorsOutput;
import io.quantflow.core.safetensors.TensorInfo;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.function.LongConsumer;

/**
 * The CPU stand-in of the GPU's slots: the same pipeline, with heap buffers and the scalar reference
 * as the "kernel", so the chunk scheduling is tested where there is no GPU.
 */
class HeapStages implements ChunkPipeline.Stages {
    final SafetensorsFile source;
    final SafetensorsOutput out;
    final QuantType type;
    final int blocksize;
    private final Slot[] slots;

    private static final class Slot {
        ByteBuffer in = ByteBuffer.allocate(0);
        float[] values = new float[0];
        byte[] packed = new byte[0];
        float[] absmax = new float[0];
    }

    HeapStages(SafetensorsFile source, SafetensorsOutput out, QuantOptions options, int slots) {
        this.source = source;
        this.out = out;
        this.type = options.quantType();
        this.blocksize = options.blocksize();
        this.slots = new Slot[slots];
        for (int i = 0; i < slots; i++) {
            this.slots[i] = new Slot();
        }
    }

    @Override
    public void read(int slot, TensorInfo tensor, Chunk chunk) throws IOException {
        Slot s = slots[slot];
        int bytes = chunk.length() * tensor.dtype().size();
        if (s.in.capacity() < bytes) {
            s.in = ByteBuffer.allocate(bytes);
        }
        s.in.clear().limit(bytes);
        source.read(tensor, chunk.first() * tensor.dtype().size(), s.in);
    }

    @Override
    public void compute(int slot, TensorInfo tensor, Chunk chunk) throws IOException {
        Slot s = slots[slot];
        int n = chunk.length();
        if (s.values.length < n) {
            s.values = new float[n];
            s.packed = new byte[(n + 1) / 2];
            s.absmax = new float[chunk.blocks(blocksize)];
        }
        HalfFloats.decode(tensor.dtype(), s.in.array(), 0, n, s.values, 0);
        new ScalarBlockwiseQuantizer(type).quantize(s.values, 0, n, blocksize, s.packed, 0, s.absmax, 0);
    }

    @Override
    public void write(int slot, Chunk chunk, long packedOffset, float[] absmax) throws IOException {
        Slot s = slots[slot];
        out.write(packedOffset + chunk.packedOffset(), ByteBuffer.wrap(s.packed, 0, chunk.packedBytes()));
        System.arraycopy(s.absmax, 0, absmax, chunk.firstBlock(blocksize), chunk.blocks(blocksize));
    }

    /** A TensorQuantizer over these stages, as GpuTensorQuantizer is over the GPU's. */
    static TensorQuantizer quantizer(long chunkBytes, int slots) {
        return new TensorQuantizer() {
            @Override
            public float[] quantize(SafetensorsFile source, TensorInfo tensor, QuantOptions options, SafetensorsOutput out,
                                    long packedOffset, LongConsumer progress) throws IOException {
                try (Pass p = open(source, List.of(tensor), options, out, progress)) {
                    return p.quantize(tensor, packedOffset);
                }
            }

            @Override
            public Pass open(SafetensorsFile source, List<TensorInfo> order, QuantOptions options, SafetensorsOutput out,
                             LongConsumer progress) {
                return new ChunkPipeline(order, options.blocksize(), chunkBytes, slots,
                        new HeapStages(source, out, options, slots), progress, "test-slot");
            }

            @Override
            public String name() {
                return "heap stand-in";
            }
        };
    }
}
