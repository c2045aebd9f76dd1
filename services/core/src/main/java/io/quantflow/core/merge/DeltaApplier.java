package io.quantflow.core.merge;

import io.quantflow.core.quant.Quantizers;

/**
 * Adds a {@link LoraDelta} to a stretch of a weight held as float32: {@code w[i] = w[i] + delta},
 * where element {@code i} of the stretch is element {@code first + i} of the weight in row-major order
 * (the stretch may start and end mid-row). Implementations give identical bits.
 */
public interface DeltaApplier {

    void apply(LoraDelta delta, long first, int n, float[] w, int wOff);

    String name();

    /** The Vector API implementation where the module is present, else the scalar one. */
    static DeltaApplier best() {
        return Quantizers.fallbackReason() == null ? new VectorDeltaApplier() : new ScalarDeltaApplier();
    }
}
