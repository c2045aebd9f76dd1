package io.quantflow.core.ggml;

/**
 * ggml's scalar conversions between float32 and its 16-bit types, ported bit for bit from {@code ggml-impl.h}
 * ({@code ggml_compute_fp32_to_fp16}, {@code ggml_compute_fp16_to_fp32}, {@code ggml_compute_fp32_to_bf16}), and
 * the x86-64 float helpers the quantizers need to give llama.cpp's bytes on every input.
 */
final class GgmlFloats {
    private GgmlFloats() {
    }

    /**
     * float32 to IEEE half bits as ggml rounds it: to nearest even, overflowing to infinity, subnormals kept, and
     * every NaN becoming {@code 0x7e00} with its sign bit kept.
     */
    static short fp32ToFp16(float f) {
        float base = (Math.abs(f) * 0x1.0p+112f) * 0x1.0p-110f;
        int w = Float.floatToRawIntBits(f);
        int shl1w = w + w;
        int sign = w & 0x80000000;
        int bias = shl1w & 0xFF000000;
        if (Integer.compareUnsigned(bias, 0x71000000) < 0) {
            bias = 0x71000000;
        }
        base = Float.intBitsToFloat((bias >>> 1) + 0x07800000) + base;
        int bits = Float.floatToRawIntBits(base);
        int expBits = (bits >>> 13) & 0x00007C00;
        int mantissaBits = bits & 0x00000FFF;
        int nonsign = expBits + mantissaBits;
        return (short) ((sign >>> 16) | (Integer.compareUnsigned(shl1w, 0xFF000000) > 0 ? 0x7E00 : nonsign));
    }

    /** IEEE half bits to float32 (exact). */
    static float fp16ToFp32(short h) {
        return Float.float16ToFloat(h);
    }

    /** float32 to bfloat16 bits as ggml rounds it: to nearest even; a NaN keeps its sign and upper payload, made quiet. */
    static short fp32ToBf16(float f) {
        int i = Float.floatToRawIntBits(f);
        if ((i & 0x7fffffff) > 0x7f800000) {
            return (short) ((i >>> 16) | 64);
        }
        return (short) ((i + (0x7fff + ((i >>> 16) & 1))) >>> 16);
    }

    /** bfloat16 bits to float32 (exact). */
    static float bf16ToFp32(short h) {
        return Float.intBitsToFloat((h & 0xFFFF) << 16);
    }

    /**
     * ggml's {@code nearest_int}: rounds to nearest, ties to even, by adding 1.5 * 2^23 and reading the mantissa;
     * only meaningful for |f| <= 4194303, and like the C code (built without assertions) it returns the same bits
     * for any other input.
     */
    static int nearestInt(float f) {
        float val = f + 12582912.f;
        int i = Float.floatToRawIntBits(val);
        return (i & 0x007fffff) - 0x00400000;
    }

    /** C's {@code roundf}: to nearest, ties away from zero. */
    static float roundf(float x) {
        return (float) Math.copySign(Math.floor(Math.abs((double) x) + 0.5), x);
    }

    /**
     * float to int32 as x86-64's {@code cvttss2si} converts it (what a C cast compiles to there): truncated toward
     * zero, and {@code 0x80000000} for NaN and anything outside int32. Casts of a float to a narrower integer take
     * the low bits of this.
     */
    static int cvtt(float f) {
        if (f >= -0x1.0p31f && f < 0x1.0p31f) {
            return (int) f;
        }
        return Integer.MIN_VALUE;
    }

    static void putShort(byte[] b, int p, short v) {
        b[p] = (byte) v;
        b[p + 1] = (byte) (v >>> 8);
    }

    static short getShort(byte[] b, int p) {
        return (short) ((b[p] & 0xFF) | (b[p + 1] & 0xFF) << 8);
    }

    static void putInt(byte[] b, int p, int v) {
        b[p] = (byte) v;
        b[p + 1] = (byte) (v >>> 8);
        b[p + 2] = (byte) (v >>> 16);
        b[p + 3] = (byte) (v >>> 24);
    }

    static int getInt(byte[] b, int p) {
        return (b[p] & 0xFF) | (b[p + 1] & 0xFF) << 8 | (b[p + 2] & 0xFF) << 16 | (b[p + 3] & 0xFF) << 24;
    }
}
