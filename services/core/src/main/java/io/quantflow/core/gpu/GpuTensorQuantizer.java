package io.quantflow.core.gpu;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.quant.QuantType;
import io.quantflow.core.quant.TensorQuantizer;
import io.quantflow.core.safetensors.SafetensorsFile;
import io.quantflow.core.safetensors.SafetensorsOutput;
import io.quantflow.core.safetensors.TensorInfo;
import jcuda.driver.JCudaDriver;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.LongConsumer;

/**
 * Quantizes on a CUDA GPU. Tensors stream through a few slots ({@link ChunkPipeline}): each chunk is
 * read from the file into pinned memory, copied to the device, quantized by the kernel and its codes
 * and absmax copied back on the slot's own stream, then written to the output; the slots overlap,
 * so reads, copies both ways, kernels and writes run at once. Host and device memory are the slots'
 * buffers: {@code slots x ~1.3 x chunkBytes} each, whatever the model size.
 *
 * <p>Produces the bytes of the CPU path: the kernel's arithmetic is the reference's, see
 * kernels/quantize.cu.
 */
public final class GpuTensorQuantizer implements TensorQuantizer {
    public static final long DEFAULT_CHUNK_BYTES = 16L << 20;
    public static final int DEFAULT_SLOTS = 4;
    static final long MIN_CHUNK_BYTES = 1L << 20;

    private final CudaDevice device;
    private final Kernels kernels;
    private final List<GpuSlot> slots;
    private final long chunkBytes;
    private boolean passOpen;
    private boolean closed;

    private GpuTensorQuantizer(CudaDevice device, Kernels kernels, List<GpuSlot> slots, long chunkBytes) {
        this.device = device;
        this.kernels = kernels;
        this.slots = slots;
        this.chunkBytes = chunkBytes;
    }

    /**
     * Opens the first GPU with the default sizes, or those of the system properties
     * {@code quantflow.gpu.chunkMiB} and {@code quantflow.gpu.slots}.
     */
    public static GpuTensorQuantizer open() {
        long chunk = Long.getLong("quantflow.gpu.chunkMiB", DEFAULT_CHUNK_BYTES >> 20) << 20;
        int slots = Integer.getInteger("quantflow.gpu.slots", DEFAULT_SLOTS);
        return open(chunk, slots);
    }

    /** Tiles the kernel's threads load ahead by default: {@code quantflow.gpu.ahead}, 1 or 2. */
    static final int DEFAULT_AHEAD = 1;

    public static GpuTensorQuantizer open(long chunkBytes, int slots) {
        return open(chunkBytes, slots, Integer.getInteger("quantflow.gpu.ahead", DEFAULT_AHEAD));
    }

    static GpuTensorQuantizer open(long chunkBytes, int slots, int ahead) {
        if (chunkBytes < MIN_CHUNK_BYTES || chunkBytes > (1L << 30) || slots < 1 || slots > 64) {
            throw QuantflowException.of(Reason.SETTINGS_INVALID, "GPU chunks must be 1 MiB to 1 GiB and slots 1 to 64, not "
                    + (chunkBytes >> 20) + " MiB x " + slots);
        }
        GpuProbe probe = GpuBackend.probe();
        if (!probe.usable()) {
            throw QuantflowException.of(Reason.NO_GPU, "no CUDA device was found (" + probe.reason() + ")");
        }
        CudaDevice device = CudaDevice.open(0);
        Kernels kernels = null;
        List<GpuSlot> made = new ArrayList<>();
        try {
            kernels = new Kernels(device, ahead);
            for (int i = 0; i < slots; i++) {
                made.add(new GpuSlot(chunkBytes, QuantOptions.MIN_BLOCKSIZE));
            }
            return new GpuTensorQuantizer(device, kernels, List.copyOf(made), chunkBytes);
        } catch (RuntimeException e) {
            made.forEach(GpuSlot::close);
            if (kernels != null) {
                kernels.close();
            }
            device.close();
            throw e;
        }
    }

    @Override
    public float[] quantize(SafetensorsFile source, TensorInfo tensor, QuantOptions options, SafetensorsOutput out,
                            long packedOffset, LongConsumer progress) throws IOException {
        try (Pass pass = open(source, List.of(tensor), options, out, progress)) {
            return pass.quantize(tensor, packedOffset);
        }
    }

    @Override
    public synchronized Pass open(SafetensorsFile source, List<TensorInfo> order, QuantOptions options,
                                  SafetensorsOutput out, LongConsumer progress) {
        if (closed) {
            throw new IllegalStateException("the GPU quantizer is closed");
        }
        if (passOpen) {
            throw new IllegalStateException("one pass at a time: the slots are shared");
        }
        for (TensorInfo t : order) {
            if (!t.dtype().isDecodedFloat()) {
                throw QuantflowException.of(Reason.TENSOR_DTYPE_UNSUPPORTED, t.name() + " is " + t.dtype() + "; only bf16, f16 and f32 are quantized");
            }
        }
        device.makeCurrent();
        kernels.prepare(options.quantType());
        passOpen = true;
        ChunkPipeline pipeline = new ChunkPipeline(order, options.blocksize(), chunkBytes, slots.size(),
                new Stages(source, out, options), progress, "quantflow-gpu-slot");
        return new Pass() {
            @Override
            public float[] quantize(TensorInfo tensor, long packedOffset) throws IOException {
                return pipeline.quantize(tensor, packedOffset);
            }

            @Override
            public void close() {
                pipeline.close();
                synchronized (GpuTensorQuantizer.this) {
                    passOpen = false;
                }
            }
        };
    }

    /** The three stages of a chunk in a slot, for one source and output file. */
    private final class Stages implements ChunkPipeline.Stages {
        private final SafetensorsFile source;
        private final SafetensorsOutput out;
        private final QuantType type;
        private final int blocksize;

        Stages(SafetensorsFile source, SafetensorsOutput out, QuantOptions options) {
            this.source = source;
            this.out = out;
            this.type = options.quantType();
            this.blocksize = options.blocksize();
        }

        @Override
        public void read(int slot, TensorInfo tensor, Chunk chunk) throws IOException {
            int size = tensor.dtype().size();
            source.read(tensor, chunk.first() * size, slots.get(slot).hostIn.slice(chunk.length() * size));
        }

        @Override
        public void compute(int slot, TensorInfo tensor, Chunk chunk) {
            GpuSlot s = slots.get(slot);
            device.makeCurrent();
            long inBytes = (long) chunk.length() * tensor.dtype().size();
            Cuda.check(JCudaDriver.cuMemcpyHtoDAsync(s.in.ptr, s.hostIn.ptr, inBytes, s.stream), "cuMemcpyHtoDAsync");
            kernels.quantize(s.stream, tensor.dtype(), type, blocksize, s.in.ptr, chunk.length(), s.packed.ptr, s.absmax.ptr);
            Cuda.check(JCudaDriver.cuMemcpyDtoHAsync(s.hostPacked.ptr, s.packed.ptr, chunk.packedBytes(), s.stream), "cuMemcpyDtoHAsync");
            Cuda.check(JCudaDriver.cuMemcpyDtoHAsync(s.hostAbsmax.ptr, s.absmax.ptr, 4L * chunk.blocks(blocksize), s.stream), "cuMemcpyDtoHAsync");
            Cuda.check(JCudaDriver.cuStreamSynchronize(s.stream), "quantize kernel (cuStreamSynchronize)");
        }

        @Override
        public void write(int slot, Chunk chunk, long packedOffset, float[] absmax) throws IOException {
            GpuSlot s = slots.get(slot);
            out.write(packedOffset + chunk.packedOffset(), s.hostPacked.slice(chunk.packedBytes()));
            ByteBuffer a = s.hostAbsmax.slice(4 * chunk.blocks(blocksize));
            a.asFloatBuffer().get(0, absmax, chunk.firstBlock(blocksize), chunk.blocks(blocksize));
        }
    }

    /** The device in use, for reports and tests. */
    public String deviceName() {
        return device.name();
    }

    /** Free and total device memory in bytes, as the driver reports them now. */
    public long[] deviceMemory() {
        return device.memory();
    }

    Kernels kernels() {
        return kernels;
    }

    CudaDevice device() {
        return device;
    }

    @Override
    public String name() {
        return String.format(Locale.ROOT, "gpu %s (sm_%s, %d streams x %d MiB chunks%s)", device.name(),
                device.computeCapability().replace(".", ""), slots.size(), chunkBytes >> 20,
                kernels.ahead() == 1 ? "" : ", loads " + kernels.ahead() + " ahead");
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        device.makeCurrent();
        slots.forEach(GpuSlot::close);
        kernels.close();
        device.close();
    }
}
