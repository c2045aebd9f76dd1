package io.quantflow.core.format.ct;

/**
 * The FP4 E2M1 values of NVFP4 (0, 0.5, 1, 1.5, 2, 3, 4, 6 and their negatives) and their 4-bit codes: the
 * magnitude's index in bits 0-2 and the sign in bit 3, as compressed-tensors' {@code pack_fp4_to_uint8} writes them.
 */
public final class Fp4E2m1 {
    /** The largest magnitude. */
    public static final float MAX = 6f;

    private static final float[] MAGNITUDES = {0f, 0.5f, 1f, 1.5f, 2f, 3f, 4f, 6f};

    private Fp4E2m1() {
    }

    /**
     * The code of {@code x} (already clamped to +-6), rounded as compressed-tensors' CPU {@code cast_to_fp4} rounds
     * (nearest, ties to the even mantissa: 0.25 to 0, 0.75 to 1, 1.25 to 1, 1.75 to 2, 2.5 to 2, 3.5 to 4, 5 to 4)
     * and packed as {@code pack_fp4_to_uint8} packs: the sign of {@code sign(x) * |rounded|}, so a negative value
     * that rounds to zero keeps its sign (code 8) and a zero of either sign gives code 0.
     */
    public static int code(float x) {
        float a = Math.abs(x);
        // the index is how many of the rounding boundaries a passes (ties to the even mantissa): no branches
        int idx = (a > 0.25f ? 1 : 0) + (a >= 0.75f ? 1 : 0) + (a > 1.25f ? 1 : 0) + (a >= 1.75f ? 1 : 0)
                + (a > 2.5f ? 1 : 0) + (a >= 3.5f ? 1 : 0) + (a > 5f ? 1 : 0);
        return x < 0f ? idx | 8 : idx;
    }

    /** The value of 4-bit code {@code c}. */
    public static float value(int c) {
        float m = MAGNITUDES[c & 7];
        return (c & 8) != 0 ? -m : m;
    }
}
