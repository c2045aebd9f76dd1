package io.quantflow.core.quant;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.zip.GZIPInputStream;

/**
 * The reciprocal of a block's absmax as bitsandbytes' CUDA kernels take it. They are built with
 * {@code --use_fast_math}, so {@code 1.0f / absmax} in {@code kQuantizeBlockwise} is the GPU's approximate
 * reciprocal ({@code MUFU.RCP}, PTX {@code rcp.approx.ftz.f32}), not the correctly rounded one: for 12.9% of float32
 * mantissas it is one unit in the last place away. Scaling a value by it instead of by {@code 1 / absmax} is
 * what makes the 4-bit codes (fp4 most visibly) and the double quantization's 8-bit codes equal bitsandbytes' bytes.
 *
 * <p>The approximate reciprocal of {@code 2^e * m} is {@code 2^-e} times that of {@code m} wherever the result is a
 * normal float (checked on an H200 for every float32: scripts/reference/bnb-fp4/rcp_table.cu), so one table over the
 * 2^23 mantissas, measured once on the GPU and stored as the difference in units in the last place from
 * {@code 1.0f / m} (a byte each, -1..1), covers every input. Inputs and results that are not normal floats are
 * flushed to zero as {@code .ftz} does: a zero or subnormal absmax gives infinity, an infinite one zero.
 */
public final class BnbReciprocal {
    static final String TABLE = "bnb-reciprocal-delta.bin.gz";
    private static final int MANTISSAS = 1 << 23;

    private BnbReciprocal() {
    }

    /** Units in the last place from the correctly rounded reciprocal of each mantissa in [1, 2); loaded on first use. */
    private static final class Table {
        static final byte[] DELTA = load();

        private static byte[] load() {
            try (InputStream raw = BnbReciprocal.class.getResourceAsStream(TABLE)) {
                if (raw == null) {
                    throw new IllegalStateException("the reciprocal table " + TABLE + " is missing from the class path");
                }
                byte[] delta = new byte[MANTISSAS];
                new DataInputStream(new GZIPInputStream(raw, 1 << 16)).readFully(delta);
                return delta;
            } catch (IOException e) {
                throw new UncheckedIOException("reading the reciprocal table " + TABLE, e);
            }
        }
    }

    /** bitsandbytes' {@code 1.0f / x} on the GPU. */
    public static float of(float x) {
        int bits = Float.floatToRawIntBits(x);
        float sign = bits < 0 ? -1f : 1f;
        int exponent = (bits >>> 23) & 0xFF;
        int mantissa = bits & 0x7F_FFFF;
        if (exponent == 0) {
            return sign * Float.POSITIVE_INFINITY; // zero, and subnormals flushed to zero
        }
        if (exponent == 0xFF) {
            return mantissa == 0 ? sign * 0f : Float.NaN;
        }
        float m = Float.intBitsToFloat(0x3F80_0000 | mantissa);
        float r = Float.intBitsToFloat(Float.floatToRawIntBits(1.0f / m) + Table.DELTA[mantissa]);
        float scaled = Math.scalb(r, 127 - exponent);
        return sign * (scaled < Float.MIN_NORMAL ? 0f : scaled);
    }

    /** The stored difference for one mantissa (for tests). */
    static int delta(int mantissa) {
        return Table.DELTA[mantissa];
    }
}
