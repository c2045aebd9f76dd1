package io.quantflow.core.ggml;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The fast path of {@link GgmlQuantizers#quantize} (the Vector API search of Q4_K and Q5_K, where chosen) gives the
 * scalar reference's bytes on random rows of awkward lengths (one super-block, fewer sub-blocks than lanes, odd
 * super-block counts) at awkward offsets, with awkward values: zeros, constant rows and sub-blocks, huge and tiny
 * magnitudes, subnormals, exact grids, outliers (NaN-free). The build runs this again with 256-bit vectors and with
 * the vector path off.
 */
class GgmlVectorEquivalenceTest {
    static final int[] SUPER_BLOCKS = {1, 2, 3, 5, 7, 11, 16, 17, 43};

    @Test
    void theVectorPathRunsWhereTheJvmOffersIt() {
        GgmlVectorization v = GgmlVectorization.get();
        boolean disabled = "false".equalsIgnoreCase(System.getProperty(GgmlVectorization.ENABLED_PROPERTY, "").trim());
        assertEquals(!disabled && ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent(), v.vector(), v.toString());
        assertEquals(v.name(), GgmlQuantizers.implementation());
        if (v.vector()) {
            assertEquals(GgmlVectorLanes.FLOAT.length(), v.lanes());
            Integer bits = Integer.getInteger(GgmlVectorization.BITS_PROPERTY);
            if (bits != null) {
                assertTrue(32 * v.lanes() <= bits, v + " under -D" + GgmlVectorization.BITS_PROPERTY + "=" + bits);
            }
        }
    }

    @Test
    void choiceFollowsTheJvm() {
        assertEquals("scalar", GgmlVectorization.choose("false", true, () -> 16).name());
        assertEquals("scalar", GgmlVectorization.choose(null, false, () -> 16).name());
        assertEquals("scalar", GgmlVectorization.choose(null, true, () -> 2).name());
        assertEquals("scalar", GgmlVectorization.choose(null, true, () -> {
            throw new LinkageError("no");
        }).name());
        assertEquals("vector-256", GgmlVectorization.choose(null, true, () -> 8).name());
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F16", "BF16", "Q8_0", "Q4_0", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"})
    void fastPathGivesTheScalarBytes(GgmlType type) {
        Random rnd = new Random(type.ordinal() * 7919L);
        for (int round = 0; round < 60; round++) {
            int n = 256 * SUPER_BLOCKS[round % SUPER_BLOCKS.length];
            float[] row = row(rnd, n, round % 12);
            int srcOff = rnd.nextInt(9);
            int dstOff = rnd.nextInt(5);
            float[] src = new float[srcOff + n + 3];
            System.arraycopy(row, 0, src, srcOff, n);
            int bytes = (int) type.rowBytes(n);
            byte[] fast = new byte[dstOff + bytes + 2];
            byte[] scalar = new byte[dstOff + bytes + 2];
            Arrays.fill(fast, (byte) 0x33);
            Arrays.fill(scalar, (byte) 0x33);
            GgmlQuantizers.quantize(type, src, srcOff, n, fast, dstOff);
            GgmlQuantizers.quantizeScalar(type, src, srcOff, n, scalar, dstOff);
            assertArrayEquals(scalar, fast, type + " round " + round + " kind " + round % 12 + " n " + n);
        }
    }

    static float[] row(Random rnd, int n, int kind) {
        float[] x = new float[n];
        float std = (float) Math.pow(10, rnd.nextInt(9) - 5);
        for (int i = 0; i < n; i++) {
            float g = (float) rnd.nextGaussian();
            x[i] = switch (kind) {
                case 0 -> g * 0.02f;
                case 1 -> g * std;
                case 2 -> 0f;
                case 3 -> (i / 32 % 3 == 0) ? 0f : g;
                case 4 -> (i / 16 % 2 == 0) ? 1.25f : -0.5f * (i / 16 % 5);
                case 5 -> g * 1e37f;
                case 6 -> g * 1e-39f;
                case 7 -> Math.round(g * 4) / 8f;
                case 8 -> (i % 97 == 0) ? g * 100 : g * 0.01f;
                case 9 -> Math.abs(g) * std + (i % 64 == 0 ? -1e-7f : 0f);
                case 10 -> Float.intBitsToFloat(Float.floatToRawIntBits(g * 0.02f) & 0xFFFF0000);
                default -> g * (float) Math.pow(10, (i / 32) % 9 - 4);
            };
        }
        return x;
    }
}
