package io.quantflow.core.quant;

import java.util.Locale;

/**
 * The two bitsandbytes 4-bit data types. Each knows its 16-entry code book (the {@code quant_map}
 * written to the checkpoint) and how a scaled value ({@code x * (1/absmax)}, float32) picks its code.
 *
 * <p>Both pickers are written as sorted decision thresholds: nf4's code is the number of its 15
 * thresholds that x exceeds; fp4 counts 7 thresholds on |x| and maps the count to bitsandbytes'
 * code order, plus 8 when x is negative. NaN exceeds nothing: nf4 gives code 0 and fp4 code 0,
 * as bitsandbytes' decision trees do.
 */
public enum QuantType {
    NF4(new float[] {
            -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
            -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
            0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
            0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f},
            new float[] {
                    -0.8480964004993439f, -0.6106329262256622f, -0.4599952697753906f, -0.33967943489551544f,
                    -0.23460740596055984f, -0.13791173323988914f, -0.045525018125772476f, 0.03979014977812767f,
                    0.1202552504837513f, 0.2035212516784668f, 0.2920137718319893f, 0.3893125355243683f,
                    0.5016634166240692f, 0.6427869200706482f, 0.8614784181118011f},
            new int[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
            false),
    FP4(fp4Codebook(),
            new float[] {0.00260417f, 0.0859375f, 0.20833333f, 0.29166667f, 0.4166667f, 0.583333f, 0.8333333f},
            // count of thresholds exceeded, 0..7, maps to codes 0,1,6,7,4,5,2,3: these are the steps
            new int[] {1, 5, 1, -3, 1, -3, 1},
            true);

    private final float[] codebook;
    private final float[] thresholds;
    private final int[] steps;
    private final boolean signMagnitude;

    QuantType(float[] codebook, float[] thresholds, int[] steps, boolean signMagnitude) {
        this.codebook = codebook;
        this.thresholds = thresholds;
        this.steps = steps;
        this.signMagnitude = signMagnitude;
    }

    /** The 16 code values, as bitsandbytes stores them in {@code quant_map}. */
    public float[] codebook() {
        return codebook.clone();
    }

    public float value(int code) {
        return codebook[code];
    }

    /** Sorted decision thresholds (on x for nf4, on |x| for fp4). */
    public float[] thresholds() {
        return thresholds.clone();
    }

    /** Code increment when x passes each threshold, so that code = sum of steps passed (+8 for fp4 sign). */
    public int[] steps() {
        return steps.clone();
    }

    /** True for fp4: the thresholds apply to |x| and the sign is bit 3. */
    public boolean signMagnitude() {
        return signMagnitude;
    }

    /** The name bitsandbytes and transformers use ({@code nf4}, {@code fp4}). */
    public String id() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static QuantType parse(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "nf4" -> NF4;
            case "fp4" -> FP4;
            default -> throw new IllegalArgumentException("unknown quant type '" + s + "' (nf4 or fp4)");
        };
    }

    /**
     * The code of one scaled value, written as bitsandbytes' decision trees: the reference that
     * the threshold-counting fast paths are held to.
     */
    public int encode(float x) {
        return this == NF4 ? encodeNf4(x) : encodeFp4(x);
    }

    static int encodeNf4(float x) {
        if (x > 0.03979014977812767f) {
            if (x > 0.3893125355243683f) {
                if (x > 0.6427869200706482f) {
                    return x > 0.8614784181118011f ? 0b1111 : 0b1110;
                }
                return x > 0.5016634166240692f ? 0b1101 : 0b1100;
            }
            if (x > 0.2035212516784668f) {
                return x > 0.2920137718319893f ? 0b1011 : 0b1010;
            }
            return x > 0.1202552504837513f ? 0b1001 : 0b1000;
        }
        if (x > -0.33967943489551544f) {
            if (x > -0.13791173323988914f) {
                return x > -0.045525018125772476f ? 0b0111 : 0b0110;
            }
            return x > -0.23460740596055984f ? 0b0101 : 0b0100;
        }
        if (x > -0.6106329262256622f) {
            return x > -0.4599952697753906f ? 0b0011 : 0b0010;
        }
        return x > -0.8480964004993439f ? 0b0001 : 0b0000;
    }

    static int encodeFp4(float x) {
        int sign = x < 0 ? 0b1000 : 0;
        float a = Math.abs(x);
        if (a > 0.29166667f) {
            if (a > 0.583333f) {
                return (a > 0.8333333f ? 0b0011 : 0b0010) + sign;
            }
            return (a > 0.4166667f ? 0b0101 : 0b0100) + sign;
        }
        if (a > 0.0859375f) {
            return (a > 0.20833333f ? 0b0111 : 0b0110) + sign;
        }
        return (a > 0.00260417f ? 0b0001 : 0b0000) + sign;
    }

    private static float[] fp4Codebook() {
        // bitsandbytes: the fp4 values 0, 0.0625, 8, 12, 4, 6, 2, 3 (and negatives) divided by their max, 12
        float[] raw = {0f, 0.0625f, 8f, 12f, 4f, 6f, 2f, 3f, 0f, -0.0625f, -8f, -12f, -4f, -6f, -2f, -3f};
        float[] out = new float[16];
        for (int i = 0; i < 16; i++) {
            out[i] = raw[i] / 12f;
        }
        return out;
    }
}
