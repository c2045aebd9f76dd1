package io.quantflow.core.quant;

import java.nio.ByteOrder;
import java.util.Locale;
import java.util.function.IntSupplier;

/**
 * The one choice between the Vector API paths and the scalar references, made once per JVM when this
 * class is initialised (as Lucene's {@code VectorizationProvider} does), with the reason for it. Every
 * dispatch site asks here: {@link Quantizers} (the blockwise quantizer), {@link HalfFloats} (bf16
 * decode), {@link DtypeEncoding} (bf16 rounding and encoding), {@link DoubleQuantizer} (the 8-bit codes
 * of the absmax values) and {@code merge.DeltaApplier} (LoRA deltas). Each keeps its scalar reference
 * beside its fast path and the two give the same bits, so the choice changes speed, never output.
 *
 * <p>The vector paths run when all of these hold, checked in this order (the first that fails is the
 * reason): the system property {@value #ENABLED_PROPERTY} is not {@code false}; the
 * {@code jdk.incubator.vector} module is in the boot layer; the float species ({@link VectorLanes}: the
 * preferred one, or narrower by {@value #BITS_PROPERTY}) has at least {@value #MIN_LANES} lanes; the
 * byte order is little-endian (the bf16 code reads byte pairs as 16-bit lanes).
 * {@code quantflow convert --verbose} prints {@link #describe()}.
 */
public final class VectorizationProvider {
    /** {@code -Dquantflow.vector=false} runs the scalar references (to compare, or to rule the Vector API out). */
    public static final String ENABLED_PROPERTY = "quantflow.vector";
    /** {@code -Dquantflow.vector.bits=256} narrows the vectors (tests run the 256-bit paths on 512-bit machines). */
    public static final String BITS_PROPERTY = "quantflow.vector.bits";
    /** Below this many float lanes the scalar code is as fast. */
    static final int MIN_LANES = 4;
    private static final String MODULE = "jdk.incubator.vector";

    private static final VectorizationProvider INSTANCE = choose(System.getProperty(ENABLED_PROPERTY),
            ModuleLayer.boot().findModule(MODULE).isPresent(), VectorLanes::count,
            ByteOrder.nativeOrder(), Integer.getInteger(BITS_PROPERTY, 0));

    private final boolean vector;
    private final int lanes;
    private final String reason;

    private VectorizationProvider(boolean vector, int lanes, String reason) {
        this.vector = vector;
        this.lanes = lanes;
        this.reason = reason;
    }

    /** The choice of this JVM. */
    public static VectorizationProvider get() {
        return INSTANCE;
    }

    /**
     * Decides from what the JVM offers; {@code lanes} is only asked when the module is present, and
     * may throw {@link LinkageError} (the Vector API failing to initialise).
     *
     * @param enabled      the value of {@value #ENABLED_PROPERTY}, or null
     * @param module       whether {@code jdk.incubator.vector} is in the boot layer
     * @param lanes        the float lanes of {@link VectorLanes#FLOAT}
     * @param requestedBits the value of {@value #BITS_PROPERTY} (0 when not set), for the reason only
     */
    static VectorizationProvider choose(String enabled, boolean module, IntSupplier lanes, ByteOrder order, int requestedBits) {
        if (enabled != null && enabled.trim().equalsIgnoreCase("false")) {
            return scalar("disabled by -D" + ENABLED_PROPERTY + "=" + enabled);
        }
        if (!module) {
            return scalar("the " + MODULE + " module is not enabled (run with --add-modules " + MODULE + ")");
        }
        int n;
        try {
            n = lanes.getAsInt();
        } catch (LinkageError e) {
            return scalar("the Vector API could not be initialised (" + e + ")");
        }
        if (n < MIN_LANES) {
            return scalar("the preferred float vector has " + n + " lanes; the scalar path is faster");
        }
        if (order != ByteOrder.LITTLE_ENDIAN) {
            return scalar("the byte order is " + order + "; the vector bf16 code reads little-endian byte pairs");
        }
        String width = (32 * n) + "-bit vectors (" + n + " float lanes)";
        boolean asked = requestedBits == 32 * n;
        return new VectorizationProvider(true, n, "the " + MODULE + " module is enabled, with " + width
                + (asked ? " as -D" + BITS_PROPERTY + "=" + requestedBits + " asks" : ""));
    }

    private static VectorizationProvider scalar(String why) {
        return new VectorizationProvider(false, 0, why);
    }

    /** Whether the Vector API paths run. */
    public boolean vector() {
        return vector;
    }

    /** Float lanes of the vector paths; 0 when the scalar references run. */
    public int lanes() {
        return lanes;
    }

    /** Why this path: what the vector paths run with, or why they do not run. Never null. */
    public String reason() {
        return reason;
    }

    /** The implementation name reports use: {@code vector-512}, {@code vector-256} or {@code scalar}. */
    public String name() {
        return vector ? "vector-" + 32 * lanes : "scalar";
    }

    /** One line for {@code --verbose}: which path runs and why. */
    public String describe() {
        return vector ? "Vector API (" + name() + "), because " + reason : "scalar reference, because " + reason;
    }

    /** The blockwise quantizer of the chosen path for {@code type}. */
    public BlockwiseQuantizer quantizer(QuantType type) {
        return vector ? new VectorBlockwiseQuantizer(type) : new ScalarBlockwiseQuantizer(type);
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%s (%s)", name(), reason);
    }
}
