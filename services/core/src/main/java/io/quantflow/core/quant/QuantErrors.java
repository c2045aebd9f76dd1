package io.quantflow.core.quant;

import io.quantflow.core.safetensors.DType;

/**
 * The reference measure of what 4-bit quantization loses, read from its output: each value
 * dequantized as bitsandbytes' {@code dequantize_4bit} does, {@code code value x block absmax} in
 * float32 rounded to the weight's dtype, compared with the value it came from.
 *
 * <p>The absmax is the exact one. With double quantization bitsandbytes dequantizes with the 8-bit
 * absmax instead, which adds a little (at most 0.05% of the relative error on the reference
 * fixtures; held by a test); that part is only known once the whole tensor is quantized, and is not
 * included.
 *
 * <p>Here every difference is taken in double precision and summed one value at a time: this is the
 * definition that {@link VectorBlockwiseQuantizer}'s in-register measure is held to. That one
 * subtracts and squares in float32 and sums lane by lane in float32 over a group of blocks before
 * adding in double, so its sums differ by rounding only, in the order and precision of summation: for non-negative terms at most
 * {@link #sumTolerance(int, int)} relatively. The largest error is taken on the float32
 * difference by both, and is identical.
 */
public final class QuantErrors {
    private QuantErrors() {
    }

    /**
     * Adds the error of {@code x[xOff..xOff+n)}, quantized into {@code packed} (from {@code packedOff},
     * two codes a byte, the first in the high nibble) with block absmax values from {@code absmax[absOff]}.
     */
    public static void measure(float[] x, int xOff, int n, int blocksize, byte[] packed, int packedOff,
                               float[] absmax, int absOff, QuantType type, DType dtype, ErrorSums out) {
        double e = 0;
        double s = 0;
        float max = 0f;
        for (int i = 0; i < n; i++) {
            int code = (packed[packedOff + (i >> 1)] >> ((i & 1) == 0 ? 4 : 0)) & 0xF;
            float deq = DtypeEncoding.round(dtype, type.value(code) * absmax[absOff + i / blocksize]);
            float v = x[xOff + i];
            double d = (double) deq - v;
            e += d * d;
            s += (double) v * v;
            max = Math.max(max, Math.abs(deq - v));
        }
        out.add(n, e, s, max);
    }

    /**
     * The largest relative difference allowed between the vector measure's error sums and the
     * reference's, for a blocksize and a vector width:
     * {@code (blocksize / lanes + GROUP_BLOCKS + lanes + 8) * 2^-24}. The vector measure squares
     * {@code (deq - x) * (1/absmax)} and {@code x * (1/absmax)} in float32 (the subtraction, the
     * reciprocal, the multiplication, the square and absmax^2 round: about 6 units of 2^-24 per term);
     * each lane adds {@code blocksize / lanes} terms of a block, then the blocks' lane sums times absmax^2
     * over {@link VectorBlockwiseQuantizer#GROUP_BLOCKS} blocks, then the lanes are added (at most
     * {@code lanes - 1} additions); for sums of non-negative terms the relative error of {@code m}
     * additions is at most about {@code m * 2^-24}. The groups' sums are added in double.
     */
    public static double sumTolerance(int blocksize, int lanes) {
        return (blocksize / (double) lanes + VectorBlockwiseQuantizer.GROUP_BLOCKS + lanes + 8) * 0x1p-24;
    }
}
