package io.quantflow.bench;

import java.util.SplittableRandom;

/** Synthetic checkpoint tensors: random normal values stored as little-endian bf16 bytes. */
final class Bf16Tensors {
    private Bf16Tensors() {
    }

    /** {@code n} samples of N(0, std^2), rounded to bf16 (nearest even) as a checkpoint stores them. */
    static byte[] randomNormal(int n, double std, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        byte[] out = new byte[Math.multiplyExact(n, 2)];
        for (int i = 0; i < n; i += 2) {
            // Box-Muller: two independent normals per pair of uniforms
            double u1 = 1.0 - random.nextDouble();
            double u2 = random.nextDouble();
            double r = Math.sqrt(-2.0 * Math.log(u1)) * std;
            put(out, i, (float) (r * Math.cos(2 * Math.PI * u2)));
            if (i + 1 < n) {
                put(out, i + 1, (float) (r * Math.sin(2 * Math.PI * u2)));
            }
        }
        return out;
    }

    private static void put(byte[] out, int i, float value) {
        short bf16 = toBf16(value);
        out[2 * i] = (byte) bf16;
        out[2 * i + 1] = (byte) (bf16 >>> 8);
    }

    /** float32 to bf16, round to nearest even (finite inputs). */
    static short toBf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        int rounded = bits + 0x7FFF + ((bits >>> 16) & 1);
        return (short) (rounded >>> 16);
    }
}
