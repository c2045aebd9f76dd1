package io.quantflow.core.pipeline.stage;

import io.quantflow.core.convert.ConversionOptions;
import io.quantflow.core.convert.Device;
import io.quantflow.core.convert.DynamicBudget;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.format.AdapterUse;
import io.quantflow.core.format.Formats;
import io.quantflow.core.format.OutputFormat;
import io.quantflow.core.format.OutputSpec;
import io.quantflow.core.pipeline.events.OutputRequest;
import io.quantflow.core.pipeline.events.Stage;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.quant.QuantType;
import io.quantflow.core.safetensors.DType;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
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
        boolean quantizes = format.quantizes();
        boolean merged = format.takesDtype();
        if (!quantizes && (o.quantType() != null || o.doubleQuant() != null || o.blocksize() != null
                || o.computeDtype() != null || o.skipModules() != null || o.device() != null)) {
            throw QuantflowException.of(Reason.OPTION_NOT_APPLICABLE, "output " + index + " (" + format.id()
                    + "): quantType, doubleQuant, blocksize, computeDtype, skipModules and device apply to 4-bit outputs only");
        }
        if (!merged && o.dtype() != null) {
            throw QuantflowException.of(Reason.OPTION_NOT_APPLICABLE, "output " + index + ": dtype applies to merged outputs, not to " + format.id());
        }
        if (format.adapterUse() == AdapterUse.REQUIRED && !withAdapter) {
            throw QuantflowException.of(Reason.FORMAT_NEEDS_ADAPTER, "output " + index + ": " + format.id() + " needs an adapter");
        }
        if (format.adapterUse() == AdapterUse.REFUSED && withAdapter) {
            throw QuantflowException.of(Reason.FORMAT_REFUSES_ADAPTER, format.adapterRefusal("ask for"));
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

    /**
     * The outputs of a request carrying these options, each written out in full (what {@code quantflow submit}
     * sends): the inverse of {@link #resolve} and {@link #spec}.
     */
    public static List<OutputRequest> requests(ConversionOptions options) {
        List<OutputRequest> out = new ArrayList<>();
        for (OutputFormat f : options.formats()) {
            String dtype = f.takesDtype() && options.dtype() != null ? options.dtype().torchName() : null;
            if (!f.quantizes()) {
                out.add(OutputRequest.builder(f.id()).dtype(dtype).build());
                continue;
            }
            QuantOptions q = options.quant();
            DynamicBudget d = options.dynamic();
            out.add(new OutputRequest(null, f.id(), q.quantType().id(), q.doubleQuant(), q.blocksize(), q.computeDtype().torchName(),
                    q.skipModules().isEmpty() ? null : q.skipModules(), dtype,
                    d == null ? null : new OutputRequest.DynamicRequest(d.maxBitsPerParameter(), d.maxBytes()),
                    options.device().name().toLowerCase(Locale.ROOT)));
        }
        return out;
    }

    /** The converter's spec of a resolved output; {@code subdir} as the CLI names it with several outputs. */
    public static OutputSpec spec(OutputRequest resolved, int outputs) {
        OutputFormat format = Formats.parse(resolved.format());
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
        return switch (format.shardStep()) {
            case QUANTIZE -> List.of(Stage.QUANTIZE, Stage.PUBLISH);
            case MERGE -> List.of(Stage.MERGE, Stage.PUBLISH);
            case NONE -> List.of(Stage.PUBLISH);
        };
    }

    public static OutputFormat format(OutputRequest o) {
        if (o.format() == null) {
            throw QuantflowException.of(Reason.NO_OUTPUT_FORMAT, "an output has no format (" + Formats.idList() + ")");
        }
        try {
            return Formats.parse(o.format());
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
