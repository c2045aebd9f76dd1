package io.quantflow.core.quant;

/**
 * What quantizing a stretch of values cost, as sums that add up across stretches: the squared error
 * {@code sum (deq - x)^2}, the squared values {@code sum x^2} and the largest {@code |deq - x|}, where
 * {@code deq} is what bitsandbytes dequantizes each value back to (see {@link QuantErrors}).
 *
 * <p>Mutable and not thread-safe: one per thread or per chunk, combined with {@link #add(ErrorSums)}
 * in a fixed order so that a tensor's totals do not depend on thread scheduling.
 */
public final class ErrorSums {
    private long values;
    private double squaredError;
    private double squaredValue;
    private float maxAbsError;

    /** Empties the sums for reuse. */
    public void reset() {
        values = 0;
        squaredError = 0;
        squaredValue = 0;
        maxAbsError = 0f;
    }

    /** Adds one stretch's sums (a block, a chunk). NaN anywhere makes the result NaN, as {@code Math.max} does. */
    public void add(long count, double squaredError, double squaredValue, float maxAbsError) {
        this.values += count;
        this.squaredError += squaredError;
        this.squaredValue += squaredValue;
        this.maxAbsError = Math.max(this.maxAbsError, maxAbsError);
    }

    public void add(ErrorSums other) {
        add(other.values, other.squaredError, other.squaredValue, other.maxAbsError);
    }

    public ErrorSums copy() {
        ErrorSums c = new ErrorSums();
        c.add(this);
        return c;
    }

    /** Values measured. */
    public long values() {
        return values;
    }

    public double squaredError() {
        return squaredError;
    }

    public double squaredValue() {
        return squaredValue;
    }

    public float maxAbsError() {
        return maxAbsError;
    }

    /** {@code sqrt(sum (deq - x)^2 / sum x^2)}; 0 when every value is 0. */
    public double relativeRms() {
        return squaredValue == 0 ? (squaredError == 0 ? 0 : Double.POSITIVE_INFINITY) : Math.sqrt(squaredError / squaredValue);
    }

    @Override
    public String toString() {
        return "ErrorSums[values=" + values + ", squaredError=" + squaredError + ", squaredValue=" + squaredValue
                + ", maxAbsError=" + maxAbsError + "]";
    }
}
