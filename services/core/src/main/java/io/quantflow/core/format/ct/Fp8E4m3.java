package io.quantflow.core.format.ct;

/**
 * The float8 e4m3fn type ({@code torch.float8_e4m3fn}): 1 sign, 4 exponent, 3 mantissa bits, bias 7, no
 * infinities, {@code 0x7f}/{@code 0xff} NaN, largest finite 448. {@link #encode} is PyTorch's cast from float32
 * ({@code c10::detail::fp8e4m3fn_from_fp32_value}): round to nearest, ties to even; from 480 up (and NaN) it gives
 * NaN, which callers avoid by clamping to +-448 first, as compressed-tensors does.
 */
public final class Fp8E4m3 {
    /** The largest finite value. */
    public static final float MAX = 448f;

    private static final float[] VALUES = new float[256];

    static {
        for (int b = 0; b < 256; b++) {
            VALUES[b] = decodeSlow(b);
        }
    }

    private Fp8E4m3() {
    }

    /** The e4m3fn byte of {@code f}, as PyTorch casts it. */
    public static int encode(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = bits & 0x80000000;
        bits ^= sign;
        int result;
        if (Integer.compareUnsigned(bits, 1087 << 20) >= 0) {
            result = 0x7f;
        } else if (bits < (121 << 23)) {
            // below the smallest normal: add 2^14 so that the float adder rounds the subnormal's bits
            float denormMask = Float.intBitsToFloat(141 << 23);
            int b = Float.floatToRawIntBits(Float.intBitsToFloat(bits) + denormMask);
            result = (b - (141 << 23)) & 0xff;
        } else {
            int mantOdd = (bits >>> 20) & 1;
            bits += ((7 - 127) << 23) + 0x7FFFF;
            bits += mantOdd;
            result = (bits >>> 20) & 0xff;
        }
        return result | (sign >>> 24);
    }

    /** The value of e4m3fn byte {@code b} (low 8 bits). */
    public static float decode(int b) {
        return VALUES[b & 0xff];
    }

    private static float decodeSlow(int b) {
        int sign = (b >>> 7) & 1;
        int exp = (b >>> 3) & 0xf;
        int mant = b & 7;
        float v;
        if (exp == 15 && mant == 7) {
            v = Float.NaN;
        } else if (exp == 0) {
            v = mant * 0x1p-9f;
        } else {
            v = (1f + mant / 8f) * (float) Math.pow(2, exp - 7);
        }
        return sign == 1 ? -v : v;
    }
}
