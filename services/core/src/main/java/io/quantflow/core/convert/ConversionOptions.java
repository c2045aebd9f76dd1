package io.quantflow.core.convert;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.format.AdapterUse;
import io.quantflow.core.format.Formats;
import io.quantflow.core.format.OutputFormat;
import io.quantflow.core.format.OutputSpec;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.safetensors.DType;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * What a conversion makes, without where it reads or writes: the formats and their options. Built once
 * from the CLI's flags, a job or an event, and checked when built (INVALID_REQUEST), so that whoever
 * carries it carries options that fit together; {@link #outputs} adds the one check that needs to know
 * whether an adapter comes with them.
 *
 * @param formats one or more outputs; with several, each goes to {@code target/<format>}
 * @param quant   the 4-bit options of the formats that quantize (defaults when null)
 * @param dtype   the 16-bit dtype of merged outputs (null: the base's)
 * @param device  where 4-bit quantization runs (AUTO when null: a CUDA GPU when there is one)
 * @param dynamic with a budget, keep in 16 bit the weights whose 4-bit error is worst, as many as the
 *                budget allows (docs/adr/0008); null quantizes every weight it can
 */
public record ConversionOptions(List<OutputFormat> formats, QuantOptions quant, DType dtype, Device device,
                                DynamicBudget dynamic) {

    public ConversionOptions {
        formats = List.copyOf(formats);
        quant = quant == null ? QuantOptions.defaults() : quant;
        device = device == null ? Device.AUTO : device;
        if (formats.isEmpty()) {
            throw QuantflowException.of(Reason.NO_OUTPUT_FORMAT, "no output format given");
        }
        if (formats.stream().distinct().count() != formats.size()) {
            throw QuantflowException.of(Reason.FORMAT_REPEATED, "a format is named twice");
        }
        if (dynamic != null && formats.stream().noneMatch(OutputFormat::quantizes)) {
            throw QuantflowException.of(Reason.DYNAMIC_NEEDS_4BIT_OUTPUT, "--dynamic chooses which weights of a 4-bit output stay in 16 bit;"
                    + " the formats asked for (" + String.join(", ", formats.stream().map(OutputFormat::id).toList())
                    + ") quantize nothing");
        }
        if (dtype != null && dtype != DType.BF16 && dtype != DType.F16) {
            throw QuantflowException.of(Reason.OPTION_INVALID, "--dtype must be bfloat16 or float16, not " + dtype.torchName());
        }
        for (OutputFormat f : formats) {
            if (dtype != null && !f.takesDtype()) {
                throw QuantflowException.of(Reason.OPTION_NOT_APPLICABLE, "--dtype applies to merged outputs, not to " + f.id());
            }
        }
    }

    /** These formats with the default options. */
    public static ConversionOptions of(List<OutputFormat> formats) {
        return new ConversionOptions(formats, null, null, null, null);
    }

    /** These formats with these 4-bit options and merged dtype, on the device AUTO picks, without {@code --dynamic}. */
    public static ConversionOptions of(List<OutputFormat> formats, QuantOptions quant, DType dtype) {
        return new ConversionOptions(formats, quant, dtype, null, null);
    }

    /** A bitsandbytes 4-bit conversion with these options. */
    public static ConversionOptions bnb4bit(QuantOptions quant) {
        return of(List.of(Formats.BNB_4BIT), quant, null);
    }

    public ConversionOptions withDevice(Device d) {
        return new ConversionOptions(formats, quant, dtype, d, dynamic);
    }

    public ConversionOptions withDynamic(DynamicBudget budget) {
        return new ConversionOptions(formats, quant, dtype, device, budget);
    }

    /**
     * The outputs these options make, in the order of {@link #formats}, checked against whether an adapter
     * comes with them (INVALID_REQUEST when a format needs one that is missing or refuses one given).
     */
    public List<OutputSpec> outputs(boolean withAdapter) {
        List<OutputSpec> out = new ArrayList<>();
        for (OutputFormat f : formats) {
            if (f.adapterUse() == AdapterUse.REQUIRED && !withAdapter) {
                throw QuantflowException.of(Reason.FORMAT_NEEDS_ADAPTER, "--format " + f.id() + " needs --adapter (the LoRA adapter directory)");
            }
            if (f.adapterUse() == AdapterUse.REFUSED && withAdapter) {
                throw QuantflowException.of(Reason.FORMAT_REFUSES_ADAPTER, f.adapterRefusal("use --format"));
            }
            out.add(spec(f, formats.size()));
        }
        return out;
    }

    /** The output of {@code f} among {@code outputs} outputs: its subfolder and the options that apply to it. */
    OutputSpec spec(OutputFormat f, int outputs) {
        Objects.requireNonNull(f, "format");
        return new OutputSpec(f, outputs == 1 ? "" : f.id(), f.quantizes() ? quant : null, f.takesDtype() ? dtype : null);
    }

    /** Whether any output quantizes (the device and the 4-bit options matter). */
    public boolean quantizes() {
        return formats.stream().anyMatch(OutputFormat::quantizes);
    }
}
