package io.quantflow.core.convert;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;

import java.math.BigDecimal;
import java.util.Locale;

/**
 * The budget of {@code --dynamic}: what the output's weight files (every {@code .safetensors} file,
 * headers included) may take, as bits per parameter of the source ({@code bytes x 8 / parameters},
 * the figure the manifest reports) or as bytes. Exactly one of the two is given.
 */
public record DynamicBudget(Double maxBitsPerParameter, Long maxBytes) {

    public DynamicBudget {
        if ((maxBitsPerParameter == null) == (maxBytes == null)) {
            throw QuantflowException.of(Reason.DYNAMIC_BUDGET_INVALID, "--dynamic needs one budget: --max-bits-per-param B or --max-size BYTES");
        }
        if (maxBitsPerParameter != null && !(maxBitsPerParameter > 0 && maxBitsPerParameter <= 64)) {
            throw QuantflowException.of(Reason.DYNAMIC_BUDGET_INVALID, "--max-bits-per-param must be a number above 0 (and at most 64), not " + maxBitsPerParameter);
        }
        if (maxBytes != null && maxBytes <= 0) {
            throw QuantflowException.of(Reason.DYNAMIC_BUDGET_INVALID, "--max-size must be a positive number of bytes, not " + maxBytes);
        }
    }

    public static DynamicBudget ofBitsPerParameter(double bits) {
        return new DynamicBudget(bits, null);
    }

    public static DynamicBudget ofBytes(long bytes) {
        return new DynamicBudget(null, bytes);
    }

    /** The budget in bytes for a source of {@code parameters} parameters (rounded down). */
    public long bytes(long parameters) {
        return maxBytes != null ? maxBytes : (long) Math.floor(maxBitsPerParameter * parameters / 8.0);
    }

    /** {@code 4.5 bits/param} or {@code 40000000 bytes}. */
    public String describe() {
        return maxBytes != null ? maxBytes + " bytes"
                : String.format(Locale.ROOT, "%s bits/param", new BigDecimal(Double.toString(maxBitsPerParameter)).stripTrailingZeros().toPlainString());
    }
}
