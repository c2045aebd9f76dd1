package io.quantflow.core.convert;

import io.quantflow.core.safetensors.SafetensorsFile;
import io.quantflow.core.safetensors.SafetensorsOutput;
import io.quantflow.core.safetensors.TensorInfo;

import java.io.IOException;
import java.util.function.LongConsumer;

/**
 * Quantizes whole tensors of a source file into an output file: the seam between the converter and
 * a compute backend (CPU threads, a GPU). Every backend writes the same bytes.
 */
public interface TensorQuantizer {

    /**
     * Quantizes {@code tensor} (BF16, F16 or F32) of {@code source}: writes its packed codes,
     * {@code (n + 1) / 2} bytes, at data offset {@code packedOffset} of {@code out} and returns one
     * absmax per block. Reports source bytes consumed to {@code progress}.
     */
    float[] quantize(SafetensorsFile source, TensorInfo tensor, QuantOptions options, SafetensorsOutput out,
                     long packedOffset, LongConsumer progress) throws IOException;

    /** For the manifest and {@code --verbose}: {@code cpu vector-512 x 8 threads}, {@code gpu ...}. */
    String name();
}
