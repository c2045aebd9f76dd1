package io.quantflow.core.quant;

/**
 * The reference dequantization of 4-bit codes: value = code value x block absmax in float32 (as
 * bitsandbytes computes it), then rounded once to the output type by {@link HalfFloats#encode}.
 * The GPU kernel is held to it byte for byte.
 */
public final class BlockwiseDequantizer {
    private BlockwiseDequantizer() {
    }

    /** Dequantizes {@code n} values: the first of each byte's two codes is in its high nibble. */
    public static void dequantize(QuantType type, byte[] packed, float[] absmax, int n, int blocksize, float[] out) {
        for (int i = 0; i < n; i++) {
            int b = packed[i >> 1];
            int code = (i & 1) == 0 ? (b >> 4) & 0xF : b & 0xF;
            out[i] = type.value(code) * absmax[i / blocksize];
        }
    }
}
