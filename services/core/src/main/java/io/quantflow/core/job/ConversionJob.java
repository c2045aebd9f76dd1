package io.quantflow.core.job;

import io.quantflow.core.convert.ConversionOptions;
import io.quantflow.core.format.OutputFormat;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.source.ModelLocation;
import io.quantflow.core.target.HubPublishOptions;
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
 * @param hub            how a Hub target is written (--private, --create-pr)
 */
public record ConversionJob(ModelLocation source, ModelLocation adapter, ModelLocation target, ConversionOptions options,
                            IfExists ifExists, int threads, boolean useCache, boolean exactModelName, HubPublishOptions hub) {
    public ConversionJob {
        Objects.requireNonNull(options, "options");
        Objects.requireNonNull(hub, "hub");
    }

    public ConversionJob(ModelLocation source, ModelLocation adapter, ModelLocation target, ConversionOptions options,
                         IfExists ifExists, int threads, boolean useCache, boolean exactModelName) {
        this(source, adapter, target, options, ifExists, threads, useCache, exactModelName, HubPublishOptions.DEFAULTS);
    }

    /** A job on the device AUTO picks, without {@code --dynamic}. */
    public ConversionJob(ModelLocation source, ModelLocation adapter, ModelLocation target, List<OutputFormat> formats,
                         QuantOptions quant, DType dtype, IfExists ifExists, int threads, boolean useCache,
                         boolean exactModelName) {
        this(source, adapter, target, ConversionOptions.of(formats, quant, dtype), ifExists, threads, useCache, exactModelName);
    }





}
