package io.quantflow.cli;

import io.quantflow.core.convert.ConversionOptions;
import io.quantflow.core.convert.Device;
import io.quantflow.core.convert.DynamicBudget;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.format.Formats;
import io.quantflow.core.format.OutputFormat;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.quant.QuantType;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.target.IfExists;
import picocli.CommandLine;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;

/** The output options of {@code convert} and {@code submit}: formats, 4-bit options, dtype, --dynamic, --if-exists, --device. */
final class ConversionFlags {
    @Option(names = "--format", defaultValue = "bnb-4bit", split = ",", paramLabel = "FORMAT",
            description = {"bnb-4bit (default), merged-16bit, merged-4bit or lora; several, comma-separated, read the source once and go to TARGET/<format>.",
                    "For vLLM and SGLang: ct-fp8-dynamic, ct-fp8-block or ct-nvfp4a16 (compressed-tensors; --skip-modules and --dynamic apply);",
                    "bnb-8bit: bitsandbytes LLM.int8."})
    List<String> formats = new ArrayList<>();

    @Option(names = "--dtype", description = "bfloat16 or float16: the dtype of merged outputs (default: the base's).")
    String dtype;

    @Option(names = "--quant-type", defaultValue = "nf4", description = "nf4 or fp4 (default: ${DEFAULT-VALUE}).")
    String quantType;

    @Option(names = "--double-quant", negatable = true, defaultValue = "true", fallbackValue = "true",
            description = "Quantize the absmax values to 8 bits too (default: on; --no-double-quant turns it off).")
    boolean doubleQuant;

    @Option(names = "--blocksize", defaultValue = "64", description = "Values per absmax block: a power of two from 32 to 4096 (default: ${DEFAULT-VALUE}).")
    int blocksize;

    @Option(names = "--compute-dtype", defaultValue = "bfloat16", description = "bfloat16, float16 or float32 (recorded for transformers; default: ${DEFAULT-VALUE}).")
    String computeDtype;

    @Option(names = "--skip-modules", split = ",", paramLabel = "MODULE", description = "Modules to keep in 16 bit, comma-separated (lm_head is always kept).")
    List<String> skipModules = new ArrayList<>();

    @Option(names = "--dynamic", description = {"Keep in 16 bit the weights that 4 bits hurt most, as many as the budget allows",
            "(--max-bits-per-param or --max-size): measures every weight first, then converts."})
    boolean dynamic;

    @Option(names = "--max-bits-per-param", paramLabel = "B",
            description = "With --dynamic: weight files at most B x parameters / 8 bytes (the bits/param the manifest reports).")
    Double maxBitsPerParam;

    @Option(names = "--max-size", paramLabel = "BYTES", description = "With --dynamic: weight files at most BYTES bytes.")
    Long maxSize;

    @Option(names = "--if-exists", defaultValue = "fail", description = "fail or overwrite, when TARGET holds files (default: ${DEFAULT-VALUE}).")
    String ifExists;

    @Option(names = "--device", defaultValue = "auto", description = "auto, cpu or gpu: where to quantize; auto takes a CUDA GPU when there is one (default: ${DEFAULT-VALUE}).")
    String device;

    /**
     * The options as the core carries them. A flag that does not parse is a usage error; options that parse
     * but do not fit together (a dtype for bnb-4bit...) fail as the conversion would, with INVALID_REQUEST.
     */
    ConversionOptions options(CommandLine.Model.CommandSpec spec) {
        List<OutputFormat> fmts = parse(spec, () -> formats.stream().map(Formats::parse).toList());
        DType mergedDtype = null;
        if (dtype != null) {
            mergedDtype = DType.fromTorchName(dtype.toLowerCase(Locale.ROOT)).filter(d -> d != DType.F32).orElseThrow(() ->
                    new CommandLine.ParameterException(spec.commandLine(), "--dtype must be bfloat16 or float16, not '" + dtype + "'"));
        }
        QuantType qt = parse(spec, () -> QuantType.parse(quantType));
        DType compute = DType.fromTorchName(computeDtype.toLowerCase(Locale.ROOT)).orElseThrow(() ->
                new CommandLine.ParameterException(spec.commandLine(), "--compute-dtype must be bfloat16, float16 or float32, not '" + computeDtype + "'"));
        QuantOptions quant = parse(spec, () -> new QuantOptions(qt, doubleQuant, blocksize, compute, skipModules.stream().map(String::trim).toList()));
        Device dev = parse(spec, () -> Device.parse(device));
        DynamicBudget budget = null;
        if (dynamic) {
            if ((maxBitsPerParam == null) == (maxSize == null)) {
                throw new CommandLine.ParameterException(spec.commandLine(),
                        "--dynamic needs one budget: --max-bits-per-param B or --max-size BYTES");
            }
            budget = parse(spec, () -> new DynamicBudget(maxBitsPerParam, maxSize));
        } else if (maxBitsPerParam != null || maxSize != null) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    (maxSize != null ? "--max-size" : "--max-bits-per-param") + " is the budget of --dynamic; add --dynamic");
        }
        return new ConversionOptions(fmts, quant, mergedDtype, dev, budget);
    }

    IfExists ifExists(CommandLine.Model.CommandSpec spec) {
        return parse(spec, () -> IfExists.valueOf(ifExists.toUpperCase(Locale.ROOT)), "--if-exists must be fail or overwrite, not '" + ifExists + "'");
    }

    private static <T> T parse(CommandLine.Model.CommandSpec spec, Supplier<T> s) {
        return parse(spec, s, null);
    }

    private static <T> T parse(CommandLine.Model.CommandSpec spec, Supplier<T> s, String message) {
        try {
            return s.get();
        } catch (QuantflowException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), message != null ? message : e.getMessage());
        }
    }
}
