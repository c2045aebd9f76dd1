package io.quantflow.core.quant;

import io.quantflow.core.safetensors.DType;

/**
 * The reference implementation: plain loops, bitsandbytes' decision trees. Every fast path is tested
 * against this one, byte for byte.
 */
public final class ScalarBlockwiseQuantizer implements BlockwiseQuantizer {
    private final QuantType type;

    public ScalarBlockwiseQuantizer(QuantType type) {
        this.type = type;
    }

    @Override
    public void quantize(float[] src, int srcOff, int n, int blocksize,
                         byte[] packed, int packedOff, float[] absmax, int absmaxOff) {
        int blocks = (n + blocksize - 1) / blocksize;
        for (int b = 0; b < blocks; b++) {
            int start = b * blocksize;
            int len = Math.min(blocksize, n - start);
            float amax = blockAbsmax(src, srcOff + start, len);
            absmax[absmaxOff + b] = amax;
            quantizeBlock(type, src, srcOff + start, len, BnbReciprocal.of(amax), packed, packedOff + start / 2);
        }
    }

    /** The reference: quantize, then {@link QuantErrors#measure} on the output. */
    @Override
    public void quantize(float[] src, int srcOff, int n, int blocksize, byte[] packed, int packedOff,
                         float[] absmax, int absmaxOff, DType dtype, ErrorSums errors) {
        quantize(src, srcOff, n, blocksize, packed, packedOff, absmax, absmaxOff);
        QuantErrors.measure(src, srcOff, n, blocksize, packed, packedOff, absmax, absmaxOff, type, dtype, errors);
    }

    /** Largest |x| of a block, ignoring NaN (as CUDA's fmaxf does); 0 for a block of zeros or NaNs. */
    static float blockAbsmax(float[] src, int off, int len) {
        float m = 0f;
        for (int i = 0; i < len; i++) {
            float a = Math.abs(src[off + i]);
            if (a > m) {
                m = a;
            }
        }
        return m;
    }

    /** Codes for one block; {@code len} may be odd only for the last block of a tensor. */
    static void quantizeBlock(QuantType type, float[] src, int off, int len, float inv, byte[] packed, int packedOff) {
        int pairs = len / 2;
        for (int j = 0; j < pairs; j++) {
            int hi = type.encode(src[off + 2 * j] * inv);
            int lo = type.encode(src[off + 2 * j + 1] * inv);
            packed[packedOff + j] = (byte) (hi << 4 | lo);
        }
        if ((len & 1) != 0) {
            int hi = type.encode(src[off + len - 1] * inv);
            int lo = type.encode(0.0f * inv);
            packed[packedOff + pairs] = (byte) (hi << 4 | lo);
        }
    }

    @Override
    public QuantType type() {
        return type;
    }

    @Override
    public String name() {
        return "scalar";
    }
}
