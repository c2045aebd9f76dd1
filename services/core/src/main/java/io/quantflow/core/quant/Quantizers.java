package io.quantflow.core.quant;

/**
 * The blockwise quantizers: the one {@link VectorizationProvider} chose for this JVM (the Vector API
 * path or the scalar reference, with its reason), and the scalar reference itself.
 */
public final class Quantizers {

    private Quantizers() {
    }

    /** The fastest quantizer this JVM can run for {@code type}, as {@link VectorizationProvider#get()} chose. */
    public static BlockwiseQuantizer best(QuantType type) {
        return VectorizationProvider.get().quantizer(type);
    }

    /** The reference every fast path is tested against. */
    public static BlockwiseQuantizer scalar(QuantType type) {
        return new ScalarBlockwiseQuantizer(type);
    }
}
