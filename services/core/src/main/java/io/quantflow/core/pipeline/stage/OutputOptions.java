package io.quantflow.core.pipeline.stage;

import io.quantflow.core.convert.Device;
import io.quantflow.core.convert.OutputFormat;
import io.quantflow.core.convert.OutputSpec;
import io.quantflow.core.convert.QuantOptions;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.pipeline.events.OutputRequest;
import io.quantflow.core.pipeline.events.Stage;
import io.quantflow.core.quant.QuantType;
import io.quantflow.core.safetensors.DType;

import java.util.List;
import java.util.function.Supplier;

/**
 * An output of a request as the converter's {@link OutputSpec}: the request's options checked the
 * way {@code quantflow convert} checks its flags, defaults filled in.
 */
public final class OutputOptions {
    private OutputOptions() {
    }

    /** The output with every option resolved (what shard work items carry). */
    public static OutputRequest resolve(OutputRequest o, int index, boolean withAdapter) {
        OutputFormat format = format(o);
        boolean quantizes = format == OutputFormat.BNB_4BIT || format == OutputFormat.MERGED_4BIT;
        boolean merged = format == OutputFormat.MERGED_16BIT || format == OutputFormat.MERGED_4BIT;
        if (!quantizes && (o.quantType() != null || o.doubleQuant() != null || o.blocksize() != null
                || o.computeDtype() != null || o.skipModules() != null || o.device() != null)) {
            throw QuantflowException.of(Reason.OPTION_NOT_APPLICABLE, "output " + index + " (" + format.id()
                    + "): quantType, doubleQuant, blocksize, computeDtype, skipModules and device apply to 4-bit outputs only");
        }
        if (!merged && o.dtype() != null) {
            throw QuantflowException.of(Reason.OPTION_NOT_APPLICABLE, "output " + index + ": dtype applies to merged outputs, not to " + format.id());
        }
        if (format.needsAdapter() && !withAdapter) {
            throw QuantflowException.of(Reason.FORMAT_NEEDS_ADAPTER, "output " + index + ": " + format.id() + " needs an adapter");
        }
        if (format == OutputFormat.BNB_4BIT && withAdapter) {
            throw QuantflowException.of(Reason.BNB_4BIT_WITH_ADAPTER, "bnb-4bit quantizes the base alone; to merge the adapter and quantize, ask for merged-4bit");
        }
        if (o.dynamic() != null) {
            throw QuantflowException.of(Reason.DYNAMIC_NOT_IN_PIPELINE, "output " + index + ": dynamic is not run by the pipeline yet (it measures every"
                    + " weight before choosing); use quantflow convert --dynamic");
        }
        if (!quantizes) {
            return OutputRequest.builder(format.id()).index(index).dtype(dtype(o, index)).build();
        }
        QuantOptions q = quant(o, index);
        String device = o.device() == null ? "auto" : parse(() -> Device.parse(o.device()), index, "device").name().toLowerCase();
        return new OutputRequest(index, format.id(), q.quantType().id(), q.doubleQuant(), q.blocksize(), q.computeDtype().torchName(),
                q.skipModules(), dtype(o, index), null, device);
    }

    /** The converter's spec of a resolved output; {@code subdir} as the CLI names it with several outputs. */
    public static OutputSpec spec(OutputRequest resolved, int outputs) {
        OutputFormat format = OutputFormat.parse(resolved.format());
        String subdir = outputs == 1 ? "" : format.id();
        QuantOptions q = resolved.quantType() == null ? null : quant(resolved, resolved.index() == null ? 0 : resolved.index());
        DType dtype = resolved.dtype() == null ? null : DType.fromTorchName(resolved.dtype()).orElseThrow();
        return new OutputSpec(format, subdir, q, dtype);
    }

    public static Device device(OutputRequest resolved) {
        return resolved.device() == null ? Device.AUTO : Device.parse(resolved.device());
    }

    /** The stages an output's shards pass: merged 16-bit through the merger, 4-bit through the quantizer (which merges on the way). */
    public static List<Stage> itinerary(OutputFormat format) {
        return switch (format) {
            case BNB_4BIT, MERGED_4BIT -> List.of(Stage.QUANTIZE, Stage.PUBLISH);
            case MERGED_16BIT -> List.of(Stage.MERGE, Stage.PUBLISH);
            case LORA -> List.of(Stage.PUBLISH);
        };
    }

    public static OutputFormat format(OutputRequest o) {
        if (o.format() == null) {
            throw QuantflowException.of(Reason.NO_OUTPUT_FORMAT, "an output has no format (bnb-4bit, merged-16bit, merged-4bit or lora)");
        }
        try {
            return OutputFormat.parse(o.format());
        } catch (IllegalArgumentException e) {
            throw QuantflowException.of(Reason.OPTION_INVALID, e.getMessage());
        }
    }

    private static QuantOptions quant(OutputRequest o, int index) {
        QuantOptions d = QuantOptions.defaults();
        QuantType type = o.quantType() == null ? d.quantType() : parse(() -> QuantType.parse(o.quantType()), index, "quantType");
        DType compute = o.computeDtype() == null ? d.computeDtype()
                : DType.fromTorchName(o.computeDtype()).orElseThrow(() -> QuantflowException.of(Reason.OPTION_INVALID, "output " + index
                + ": computeDtype must be bfloat16, float16 or float32, not " + o.computeDtype()));
        try {
            return new QuantOptions(type, o.doubleQuant() == null ? d.doubleQuant() : o.doubleQuant(),
                    o.blocksize() == null ? d.blocksize() : o.blocksize(), compute,
                    o.skipModules() == null ? List.of() : o.skipModules());
        } catch (IllegalArgumentException e) {
            throw QuantflowException.of(Reason.OPTION_INVALID, "output " + index + ": " + e.getMessage());
        }
    }

    private static String dtype(OutputRequest o, int index) {
        if (o.dtype() == null) {
            return null;
        }
        DType d = DType.fromTorchName(o.dtype()).orElseThrow(() -> QuantflowException.of(Reason.OPTION_INVALID, "output " + index
                + ": dtype must be bfloat16 or float16, not " + o.dtype()));
        if (d != DType.BF16 && d != DType.F16) {
            throw QuantflowException.of(Reason.OPTION_INVALID, "output " + index + ": dtype must be bfloat16 or float16, not " + o.dtype());
        }
        return d.torchName();
    }

    private static <T> T parse(Supplier<T> p, int index, String field) {
        try {
            return p.get();
        } catch (IllegalArgumentException e) {
            throw QuantflowException.of(Reason.OPTION_INVALID, "output " + index + ": " + field + ": " + e.getMessage());
        }
    }
}
