package io.quantflow.core.ggml;

import java.util.Locale;
import java.util.function.IntSupplier;

/**
 * The one choice, made once per JVM, between the Vector API search of the k-quants ({@link VectorGgmlQuantizer})
 * and the scalar reference ({@link ScalarGgmlQuantizer}), with the reason; the same rules and properties as
 * {@code quant.VectorizationProvider} (this package imports nothing of core, so it decides for itself):
 * {@code -Dquantflow.vector=false} turns it off, {@code -Dquantflow.vector.bits=256} narrows the vectors, the
 * {@code jdk.incubator.vector} module must be in the boot layer and the species have at least 4 float lanes. Both
 * paths give the same bytes; the choice changes speed, never output.
 */
public final class GgmlVectorization {
    /** {@code -Dquantflow.vector=false} runs the scalar references. */
    public static final String ENABLED_PROPERTY = "quantflow.vector";
    /** {@code -Dquantflow.vector.bits=256} narrows the vectors. */
    public static final String BITS_PROPERTY = "quantflow.vector.bits";
    static final int MIN_LANES = 4;
    private static final String MODULE = "jdk.incubator.vector";

    private static final GgmlVectorization INSTANCE = choose(System.getProperty(ENABLED_PROPERTY),
            ModuleLayer.boot().findModule(MODULE).isPresent(), () -> GgmlVectorLanes.FLOAT.length());

    private final boolean vector;
    private final int lanes;
    private final String reason;

    private GgmlVectorization(boolean vector, int lanes, String reason) {
        this.vector = vector;
        this.lanes = lanes;
        this.reason = reason;
    }

    /** The choice of this JVM. */
    public static GgmlVectorization get() {
        return INSTANCE;
    }

    /** Decides from what the JVM offers; {@code lanes} is only asked when the module is present. */
    static GgmlVectorization choose(String enabled, boolean module, IntSupplier lanes) {
        if (enabled != null && enabled.trim().equalsIgnoreCase("false")) {
            return new GgmlVectorization(false, 0, "disabled by -D" + ENABLED_PROPERTY + "=" + enabled);
        }
        if (!module) {
            return new GgmlVectorization(false, 0, "the " + MODULE + " module is not enabled (run with --add-modules " + MODULE + ")");
        }
        int n;
        try {
            n = lanes.getAsInt();
        } catch (LinkageError e) {
            return new GgmlVectorization(false, 0, "the Vector API could not be initialised (" + e + ")");
        }
        if (n < MIN_LANES) {
            return new GgmlVectorization(false, 0, "the preferred float vector has " + n + " lanes; the scalar path is faster");
        }
        return new GgmlVectorization(true, n, "the " + MODULE + " module is enabled, with " + (32 * n) + "-bit vectors");
    }

    /** Whether the Vector API search runs. */
    public boolean vector() {
        return vector;
    }

    /** Float lanes of the vector path; 0 when the scalar reference runs. */
    public int lanes() {
        return lanes;
    }

    /** Why this path. */
    public String reason() {
        return reason;
    }

    /** {@code vector-512}, {@code vector-256} or {@code scalar}. */
    public String name() {
        return vector ? "vector-" + 32 * lanes : "scalar";
    }

    /** Only called when {@link #vector()}: links the Vector API. */
    static ScalarGgmlQuantizer newVectorQuantizer() {
        return new VectorGgmlQuantizer();
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%s (%s)", name(), reason);
    }
}
