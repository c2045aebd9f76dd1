package io.quantflow.core.quant;

/**
 * Chooses the blockwise quantizer once per process: the Vector API path where the
 * {@code jdk.incubator.vector} module is present and has wide enough vectors, otherwise the scalar
 * reference, with the reason it fell back (shown by {@code quantflow convert --verbose}).
 */
public final class Quantizers {
    private static final String FALLBACK_REASON = probe();

    private Quantizers() {
    }

    /** The fastest quantizer this JVM can run for {@code type}. */
    public static BlockwiseQuantizer best(QuantType type) {
        return FALLBACK_REASON == null ? new VectorBlockwiseQuantizer(type) : new ScalarBlockwiseQuantizer(type);
    }

    public static BlockwiseQuantizer scalar(QuantType type) {
        return new ScalarBlockwiseQuantizer(type);
    }

    /** Null when the vector path is used; otherwise why not. */
    public static String fallbackReason() {
        return FALLBACK_REASON;
    }

    private static String probe() {
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            return "the jdk.incubator.vector module is not enabled (run with --add-modules jdk.incubator.vector)";
        }
        try {
            int lanes = VectorBlockwiseQuantizer.lanes();
            if (lanes < 4) {
                return "the preferred float vector has " + lanes + " lanes; the scalar path is faster";
            }
            return null;
        } catch (LinkageError e) {
            return "the Vector API could not be initialised (" + e + ")";
        }
    }
}
