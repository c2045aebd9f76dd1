package io.quantflow.core.job;

import io.quantflow.core.convert.ConversionOptions;
import io.quantflow.core.format.OutputFormat;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.source.ModelLocation;
import io.quantflow.core.target.IfExists;

import java.util.List;
import java.util.Objects;

/**
 * A conversion as a user asks for it, with locations rather than local directories.
 *
 * @param adapter        a PEFT LoRA adapter, or null
 * @param options        what to make (checked when built)
 * @param useCache       answer from the conversion cache when it holds the result (--no-cache: false)
 * @param exactModelName never stand a pre-quantized variant in for the model asked for
 */
public record ConversionJob(ModelLocation source, ModelLocation adapter, ModelLocation target, ConversionOptions options,
                            IfExists ifExists, int threads, boolean useCache, boolean exactModelName) {
    public ConversionJob {
        Objects.requireNonNull(options, "options");
    }

    /** A job on the device AUTO picks, without {@code --dynamic}. */
    public ConversionJob(ModelLocation source, ModelLocation adapter, ModelLocation target, List<OutputFormat> formats,
                         QuantOptions quant, DType dtype, IfExists ifExists, int threads, boolean useCache,
                         boolean exactModelName) {
        this(source, adapter, target, ConversionOptions.of(formats, quant, dtype), ifExists, threads, useCache, exactModelName);
    }





}
