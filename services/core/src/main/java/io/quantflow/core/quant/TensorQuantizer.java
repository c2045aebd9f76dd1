package io.quantflow.core.quant;

import io.quantflow.core.safetensors.SafetensorsFile;
import io.quantflow.core.safetensors.SafetensorsOutput;
import io.quantflow.core.safetensors.TensorInfo;

import java.io.IOException;
import java.util.List;
import java.util.function.LongConsumer;

/**
 * An accelerator that quantizes whole stored tensors of a source file straight into an output file,
 * instead of the CPU threads (which quantize chunk by chunk through the format's codec, see
 * {@code format.WeightCodec}): the seam the GPU implements ({@code gpu.GpuTensorQuantizer}). It serves the
 * bitsandbytes 4-bit codec ({@code WeightCodec.accelerable()}) and writes the bytes the CPU would.
 */
public interface TensorQuantizer extends AutoCloseable {

    /**
     * Quantizes {@code tensor} (BF16, F16 or F32) of {@code source}: writes its packed codes,
     * {@code (n + 1) / 2} bytes, at data offset {@code packedOffset} of {@code out} and returns one
     * absmax per block. Reports source bytes consumed to {@code progress}.
     */
    float[] quantize(SafetensorsFile source, TensorInfo tensor, QuantOptions options, SafetensorsOutput out,
                     long packedOffset, LongConsumer progress) throws IOException;

    /**
     * Opens a pass over tensors of {@code source} that will be quantized in exactly the given order,
     * so that a backend can read and compute ahead across tensor boundaries while the caller is
     * still working out where the next tensor goes. The default quantizes each tensor when asked.
     */
    default Pass open(SafetensorsFile source, List<TensorInfo> order, QuantOptions options, SafetensorsOutput out,
                      LongConsumer progress) {
        return (tensor, packedOffset) -> quantize(source, tensor, options, out, packedOffset, progress);
    }

    /** For the manifest and {@code --verbose}: {@code cpu vector-512 x 8 threads}, {@code gpu ...}. */
    String name();

    /** Releases what the backend holds (GPU memory, a device context); nothing by default. */
    @Override
    default void close() {
    }

    /** Tensors quantized in the order the pass was opened with. Closing it abandons any work read ahead. */
    interface Pass extends AutoCloseable {

        /** Quantizes the next tensor of the order, as {@link TensorQuantizer#quantize} does. */
        float[] quantize(TensorInfo tensor, long packedOffset) throws IOException;

        @Override
        default void close() {
        }
    }
}
