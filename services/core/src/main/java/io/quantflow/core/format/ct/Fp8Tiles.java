package io.quantflow.core.format.ct;

import io.quantflow.core.quant.DtypeEncoding;
import io.quantflow.core.quant.ErrorSums;
import io.quantflow.core.safetensors.DType;

/**
 * FP8 E4M3 quantization of whole row bands of a 2-D weight in tiles of {@code tileRows x tileCols} values, one
 * scale per tile, in compressed-tensors' order of operations (the scalar reference): the tile's absmax in the
 * weight's dtype; {@code scale = dtype(absmax / 448)}, a zero scale replaced by the dtype's epsilon
 * ({@code calculate_qparams}); {@code q = fp8(clamp(dtype(x / scale), -448, 448))} ({@code _quantize}: the
 * division rounds to the weight's dtype before the cast). FP8_DYNAMIC is tiles of one row ({@code channel}),
 * FP8_BLOCK tiles of 128 x 128 ({@code block}; a partial tile at the right or bottom edge is the zero-padded
 * tile, whose padding changes nothing).
 */
public final class Fp8Tiles {
    private Fp8Tiles() {
    }

    /** {@code torch.finfo(dtype).eps}: what a zero scale becomes. */
    static float epsilon(DType dtype) {
        return switch (dtype) {
            case BF16 -> 0x1p-7f;
            case F16 -> 0x1p-10f;
            case F32 -> 0x1p-23f;
            default -> throw new IllegalArgumentException("no FP8 scales in " + dtype);
        };
    }

    /** The scale of a tile whose largest magnitude is {@code absmax}. */
    static float scale(float absmax, DType dtype) {
        float s = DtypeEncoding.round(dtype, absmax / Fp8E4m3.MAX);
        return s == 0f ? epsilon(dtype) : s;
    }

    /**
     * Quantizes rows {@code [0, rows)} of {@code x} (row-major, {@code cols} a row, {@code rows} a whole number of
     * bands but for the weight's last band) into {@code q}; writes each tile's absmax and scale (row-major over the
     * tiles of these rows) and adds the error of the dequantized values ({@code dtype(fp8 * scale)}) to {@code sums}.
     */
    public static void quantize(float[] x, int rows, int cols, int tileRows, int tileCols, DType dtype,
                                byte[] q, float[] absmax, float[] scales, ErrorSums sums) {
        int tilesPerRow = (cols + tileCols - 1) / tileCols;
        double se = 0;
        double sv = 0;
        float maxErr = 0f;
        for (int r0 = 0, band = 0; r0 < rows; r0 += tileRows, band++) {
            int r1 = Math.min(rows, r0 + tileRows);
            for (int t = 0; t < tilesPerRow; t++) {
                int c0 = t * tileCols;
                int c1 = Math.min(cols, c0 + tileCols);
                float m = 0f;
                for (int r = r0; r < r1; r++) {
                    for (int i = r * cols + c0, end = r * cols + c1; i < end; i++) {
                        m = Math.max(m, Math.abs(x[i]));
                    }
                }
                float s = scale(m, dtype);
                int tile = band * tilesPerRow + t;
                absmax[tile] = m;
                scales[tile] = s;
                for (int r = r0; r < r1; r++) {
                    for (int i = r * cols + c0, end = r * cols + c1; i < end; i++) {
                        float v = x[i];
                        float d = DtypeEncoding.round(dtype, v / s);
                        d = Math.max(-Fp8E4m3.MAX, Math.min(Fp8E4m3.MAX, d));
                        int b = Fp8E4m3.encode(d);
                        q[i] = (byte) b;
                        float deq = DtypeEncoding.round(dtype, Fp8E4m3.decode(b) * s);
                        double e = (double) deq - v;
                        se += e * e;
                        sv += (double) v * v;
                        maxErr = Math.max(maxErr, Math.abs(deq - v));
                    }
                }
            }
        }
        sums.add((long) rows * cols, se, sv, maxErr);
    }
}
