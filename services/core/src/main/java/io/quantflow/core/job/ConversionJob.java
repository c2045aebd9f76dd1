package io.quantflow.core.job;

import io.quantflow.core.convert.Device;
import io.quantflow.core.convert.DynamicBudget;
import io.quantflow.core.convert.IfExists;
import io.quantflow.core.convert.OutputFormat;
import io.quantflow.core.convert.QuantOptions;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.source.ModelLocation;

import java.util.List;
import java.util.Objects;

/**
 * A conversion as a user asks for it, with locations rather than local directories.
 *
 * @param adapter        a PEFT LoRA adapter, or null
 * @param useCache       answer from the conversion cache when it holds the result (--no-cache: false)
 * @param exactModelName never stand a pre-quantized variant in for the model asked for
 * @param device         where 4-bit quantization runs
 * @param dynamic        the --dynamic budget, or null
 */
public record ConversionJob(ModelLocation source, ModelLocation adapter, ModelLocation target, List<OutputFormat> formats,
                            QuantOptions quant, DType dtype, IfExists ifExists, int threads, boolean useCache,
                            boolean exactModelName, Device device, DynamicBudget dynamic) {
    public ConversionJob {
        formats = List.copyOf(formats);
        Objects.requireNonNull(device, "device");
    }

    /** A job on the device AUTO picks. */
    public ConversionJob(ModelLocation source, ModelLocation adapter, ModelLocation target, List<OutputFormat> formats,
                         QuantOptions quant, DType dtype, IfExists ifExists, int threads, boolean useCache,
                         boolean exactModelName) {
        this(source, adapter, target, formats, quant, dtype, ifExists, threads, useCache, exactModelName, Device.AUTO, null);
    }
}
