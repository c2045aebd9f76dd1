package io.quantflow.core.quant;

import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.SafetensorsFile;
import io.quantflow.core.safetensors.TensorInfo;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Dequantizes bitsandbytes 4-bit weights bit for bit as {@code bitsandbytes.functional.dequantize_4bit}
 * does on the GPU, so that a model that only exists in 4 bit can be merged with an adapter and
 * requantized (docs/adr/0004-reading-adapters-and-4bit-bases.md: the lossy path, for a model that only exists in 4 bit).
 *
 * <p>The arithmetic, all float32:
 * <ul>
 *   <li>absmax, with double quantization: {@code nested_quant_map[code8] * nested_absmax[i / 256]},
 *       rounded, then {@code + nested_offset}, rounded (two operations, never fused: the 8-bit kernel
 *       multiplies and PyTorch adds the offset afterwards);</li>
 *   <li>value: {@code quant_map[code] * absmax[i / blocksize]}, rounded to float32 and then to the
 *       weight's dtype (round to nearest even), as the kernel stores into a bf16/f16/f32 output.</li>
 * </ul>
 * One detail differs from reading {@code quant_map} literally: bitsandbytes' fp4 kernel decodes the
 * magnitude and multiplies by the sign bit, so code {@code 0b1000} gives {@code -0.0} where the
 * stored map holds {@code +0.0}. {@link #codeValues} applies that sign, and dequantized fp4 zeros in
 * negative positions are {@code -0.0} as in bitsandbytes' output.
 */
public final class Dequantizer {
    private Dequantizer() {
    }

    /**
     * Per-block absmax of a weight, undoing double quantization when present
     * ({@code code8 * nested_absmax + offset} in float32, as bitsandbytes).
     *
     * @return {@link Bnb4bitWeight#blocks()} values
     */
    public static float[] absmax(SafetensorsFile f, Bnb4bitWeight w) throws IOException {
        int blocks = w.blocks();
        if (!w.doubleQuant()) {
            return readF32(f, w.absmax(), blocks);
        }
        ByteBuffer codes = ByteBuffer.allocate(blocks);
        f.read(w.absmax(), 0, codes);
        float[] nested = readF32(f, w.nestedAbsmax(), w.nestedBlocks());
        float[] map = readF32(f, w.nestedQuantMap(), 256);
        float offset = w.nestedOffset();
        float[] out = new float[blocks];
        byte[] c = codes.array();
        for (int i = 0; i < blocks; i++) {
            float scaled = map[c[i] & 0xFF] * nested[i / Bnb4bitWeight.NESTED_BLOCKSIZE];
            out[i] = scaled + offset;
        }
        return out;
    }

    /**
     * The value of each of the 16 codes as bitsandbytes decodes them: the stored {@code quant_map},
     * with fp4's sign bit applied to zero as well ({@code -0.0} for code 8).
     */
    public static float[] codeValues(SafetensorsFile f, Bnb4bitWeight w) throws IOException {
        float[] values = readF32(f, w.quantMap(), 16);
        if (w.type().signMagnitude()) {
            for (int code = 8; code < 16; code++) {
                values[code] = Math.copySign(values[code], -1f);
            }
        }
        return values;
    }

    /**
     * Values {@code [start, start+n)} of the weight: {@code quant_map[code] * absmax[block]} in float32,
     * then rounded to {@code w.dtype()} (bf16/f16 round-to-nearest-even; float32 unchanged), written as
     * float32 to {@code dst[dstOff..]}.
     *
     * @param absmax what {@link #absmax} returned for {@code w}
     * @param start  an even element index (two values share a byte)
     */
    public static void dequantize(SafetensorsFile f, Bnb4bitWeight w, float[] absmax, long start, int n,
                                  float[] dst, int dstOff) throws IOException {
        dequantize(f, w, codeValues(f, w), absmax, start, n, dst, dstOff);
    }

    /**
     * As {@link #dequantize(SafetensorsFile, Bnb4bitWeight, float[], long, int, float[], int)}, with the
     * code values read once by the caller ({@link #codeValues}) for a weight read in many chunks.
     */
    public static void dequantize(SafetensorsFile f, Bnb4bitWeight w, float[] codeValues, float[] absmax, long start,
                                  int n, float[] dst, int dstOff) throws IOException {
        long total = w.elements();
        if (start < 0 || (start & 1) != 0 || n < 0 || start + n > total) {
            throw new IllegalArgumentException("cannot dequantize [" + start + ", " + (start + n) + ") of " + w.name()
                    + " (" + total + " values; the start must be even)");
        }
        if (absmax.length != w.blocks() || codeValues.length != 16) {
            throw new IllegalArgumentException(w.name() + " has " + w.blocks() + " blocks, " + absmax.length + " absmax given");
        }
        if (dstOff < 0 || dstOff + n > dst.length) {
            throw new IllegalArgumentException("destination too small for " + n + " values");
        }
        if (n == 0) {
            return;
        }
        ByteBuffer bytes = ByteBuffer.allocate((n + 1) / 2);
        f.read(w.packed(), start / 2, bytes);
        byte[] packed = bytes.array();
        int blocksize = w.blocksize();
        switch (w.dtype()) {
            case BF16 -> decode(packed, codeValues, absmax, start, n, blocksize, dst, dstOff, Rounding.BF16);
            case F16 -> decode(packed, codeValues, absmax, start, n, blocksize, dst, dstOff, Rounding.F16);
            default -> decode(packed, codeValues, absmax, start, n, blocksize, dst, dstOff, Rounding.F32);
        }
    }

    private enum Rounding { BF16, F16, F32 }

    private static void decode(byte[] packed, float[] codes, float[] absmax, long start, int n, int blocksize,
                               float[] dst, int dstOff, Rounding rounding) {
        int i = 0;
        while (i < n) {
            long element = start + i;
            int block = (int) (element / blocksize);
            int end = (int) Math.min(n, (long) (block + 1) * blocksize - start);
            float scale = absmax[block];
            for (; i < end; i++) {
                int b = packed[i >> 1];
                int code = (i & 1) == 0 ? (b >> 4) & 0xF : b & 0xF;
                float v = codes[code] * scale;
                dst[dstOff + i] = switch (rounding) {
                    case BF16 -> DtypeEncoding.round(DType.BF16, v);
                    case F16 -> DtypeEncoding.round(DType.F16, v);
                    case F32 -> v;
                };
            }
        }
    }

    private static float[] readF32(SafetensorsFile f, TensorInfo t, int count)
            throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(count * 4).order(ByteOrder.LITTLE_ENDIAN);
        f.read(t, 0, buf);
        float[] out = new float[count];
        buf.flip().asFloatBuffer().get(out);
        return out;
    }
}
