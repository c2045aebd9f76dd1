package io.quantflow.core.job;

import io.quantflow.core.convert.IfExists;
import io.quantflow.core.convert.OutputFormat;
import io.quantflow.core.convert.QuantOptions;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.source.ModelLocation;

import java.util.List;

/**
 * A conversion as a user asks for it, with locations rather than local directories.
 *
 * @param adapter        a PEFT LoRA adapter, or null
 * @param useCache       answer from the conversion cache when it holds the result (--no-cache: false)
 * @param exactModelName never stand a pre-quantized variant in for the model asked for
 */
public record ConversionJob(ModelLocation source, ModelLocation adapter, ModelLocation target, List<OutputFormat> formats,
                            QuantOptions quant, DType dtype, IfExists ifExists, int threads, boolean useCache,
                            boolean exactModelName) {
    public ConversionJob {
        formats = List.copyOf(formats);
    }
}
