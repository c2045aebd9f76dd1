package io.quantflow.core.cache;

import io.quantflow.core.convert.ConversionOptions;
import io.quantflow.core.convert.DynamicBudget;
import io.quantflow.core.format.OutputFormat;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.util.Digests;

import java.util.List;

/**
 * The conversion cache's key: the sha256 of everything the output's bytes depend on, the source's
 * and adapter's content hashes, the formats, the 4-bit options and the merged dtype. Threads,
 * device and the target do not change the bytes and are not part of it. The leading version
 * changes whenever what a conversion writes for the same inputs changes.
 */
public final class CacheKey {
    static final String VERSION = "quantflow-conversion-1";

    private CacheKey() {
    }

    /** The key of a conversion with these options of this source and adapter. */
    public static String of(String sourceHash, String adapterHash, ConversionOptions options) {
        return of(sourceHash, adapterHash, options.formats(), options.quant(), options.dtype(), options.dynamic());
    }

    public static String of(String sourceHash, String adapterHash, List<OutputFormat> formats, QuantOptions quant, DType dtype) {
        return of(sourceHash, adapterHash, formats, quant, dtype, null);
    }

    /** As above, for a request with a {@code --dynamic} budget (null: none), which changes what is written. */
    public static String of(String sourceHash, String adapterHash, List<OutputFormat> formats, QuantOptions quant, DType dtype,
                            DynamicBudget dynamic) {
        StringBuilder s = new StringBuilder(VERSION).append('\n');
        s.append("source=").append(sourceHash).append('\n');
        s.append("adapter=").append(adapterHash == null ? "" : adapterHash).append('\n');
        s.append("formats=").append(String.join(",", formats.stream().map(OutputFormat::id).sorted().toList())).append('\n');
        s.append("quant=").append(quant.quantType().id()).append(",dq=").append(quant.doubleQuant())
                .append(",blocksize=").append(quant.blocksize()).append(",compute=").append(quant.computeDtype().torchName())
                .append(",skip=").append(String.join(",", quant.skipModules())).append('\n');
        s.append("dtype=").append(dtype == null ? "" : dtype.torchName()).append('\n');
        if (dynamic != null) {
            s.append("dynamic=").append(dynamic.maxBitsPerParameter() == null ? "" : dynamic.maxBitsPerParameter())
                    .append(',').append(dynamic.maxBytes() == null ? "" : dynamic.maxBytes()).append('\n');
        }
        return Digests.sha256(s.toString());
    }
}
