package io.quantflow.core.quant;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.OptionalInt;
import java.util.Random;
import java.util.stream.IntStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The Vector API quantizer gives the scalar reference's bytes, and both give every value the code of
 * bitsandbytes' decision tree on {@code x * (1/absmax)}, on awkward sizes and hostile values. The
 * outcomes for zero, NaN and infinite values are pinned exactly as docs/numbers.md states them.
 */
class QuantizerEquivalenceTest {
    static final int[] SIZES = {1, 2, 3, 13, 63, 64, 65, 127, 207, 702, 4095, 4097, 100003};
    static final int[] BLOCKSIZES = {32, 64, 128, 256, 1024, 4096};

    private static final int SRC_OFF = 5;
    private static final int PACKED_OFF = 3;
    private static final int ABSMAX_OFF = 2;
    private static final byte PACKED_SENTINEL = (byte) 0xA5;
    private static final float ABSMAX_SENTINEL = -7.25f;

    /** Kinds of input, each filling whole blocks in its own way. */
    enum Input {
        /** Weights as they are: normal, std 0.02. */
        NORMAL,
        /** Scaled by 1e36, with some blocks holding +-Float.MAX_VALUE (1/absmax is then subnormal). */
        HUGE,
        /** Scaled by 1e-30: normal floats, large reciprocals. */
        TINY,
        /** Subnormal values and absmax (1/absmax may overflow to infinity). */
        SUBNORMAL,
        /** Half the blocks all +0.0 or all -0.0, the rest normal. */
        ZERO_BLOCKS,
        /** Normal values with NaN, +-Inf, +-0.0, subnormals and +-MAX_VALUE scattered in. */
        SPECIALS,
        /** Blocks of NaN only, NaN with one value, NaN with infinities. */
        NAN_BLOCKS,
        /** Values exactly on (and one ulp beside) the decision thresholds and code values, times the block's absmax. */
        THRESHOLDS,
        /** Blocks mixing all of the above. */
        MIXED
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (QuantType q : QuantType.values()) {
            for (Input kind : Input.values()) {
                for (int bs : BLOCKSIZES) {
                    out.add(Arguments.of(q, kind, bs));
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} {1} blocksize {2}")
    @MethodSource("cases")
    void vectorEqualsScalarAndEveryCodeIsTheDecisionTreeOnTheScaledValue(QuantType q, Input kind, int blocksize) {
        BlockwiseQuantizer scalar = Quantizers.scalar(q);
        BlockwiseQuantizer vector = new VectorBlockwiseQuantizer(q);
        Random rnd = new Random(31L * q.ordinal() + 1009L * kind.ordinal() + blocksize);
        for (int n : SIZES) {
            float[] x = make(kind, n, blocksize, rnd);
            String where = q + " " + kind + " n=" + n + " blocksize=" + blocksize;
            Result s = run(scalar, x, n, blocksize, where);
            Result v = run(vector, x, n, blocksize, where);
            assertArrayEquals(s.packed, v.packed, where + ": vector codes differ from scalar");
            assertArrayEquals(bits(s.absmax), bits(v.absmax), where + ": vector absmax differs from scalar");
            checkAgainstReference(q, x, n, blocksize, s, where);
        }
    }

    /** What both must produce, computed here independently: absmax ignoring NaN, then the tree on x times bitsandbytes' reciprocal of absmax (BnbReciprocal). */
    private static void checkAgainstReference(QuantType q, float[] x, int n, int blocksize, Result r, String where) {
        int blocks = (n + blocksize - 1) / blocksize;
        for (int b = 0; b < blocks; b++) {
            float m = 0f;
            for (int i = b * blocksize; i < Math.min(n, (b + 1) * blocksize); i++) {
                if (!Float.isNaN(x[i])) {
                    m = Math.max(m, Math.abs(x[i]));
                }
            }
            assertEquals(Float.floatToRawIntBits(m), Float.floatToRawIntBits(r.absmax[b]), where + ": absmax of block " + b);
        }
        for (int i = 0; i < n; i++) {
            float inv = BnbReciprocal.of(r.absmax[i / blocksize]);
            int expected = q.encode(x[i] * inv);
            int actual = nibble(r.packed, 0, i);
            if (expected != actual) {
                fail(where + ": element " + i + " = " + x[i] + " (absmax " + r.absmax[i / blocksize] + ") has code " + actual
                        + ", the decision tree gives " + expected);
            }
        }
        if ((n & 1) == 1) {
            float inv = BnbReciprocal.of(r.absmax[(n - 1) / blocksize]);
            assertEquals(q.encode(0.0f * inv), nibble(r.packed, 0, n), where + ": padding nibble is the code of 0.0 in the last block");
        }
    }

    private record Result(byte[] packed, float[] absmax) {
    }

    /** Runs at non-zero offsets into larger arrays and checks nothing outside the output ranges is touched. */
    private static Result run(BlockwiseQuantizer quantizer, float[] x, int n, int blocksize, String where) {
        int blocks = (n + blocksize - 1) / blocksize;
        int packedLen = (n + 1) / 2;
        float[] src = new float[SRC_OFF + n + 7];
        Arrays.fill(src, Float.NaN);
        System.arraycopy(x, 0, src, SRC_OFF, n);
        byte[] packed = new byte[PACKED_OFF + packedLen + 70];
        Arrays.fill(packed, PACKED_SENTINEL);
        float[] absmax = new float[ABSMAX_OFF + blocks + 3];
        Arrays.fill(absmax, ABSMAX_SENTINEL);
        quantizer.quantize(src, SRC_OFF, n, blocksize, packed, PACKED_OFF, absmax, ABSMAX_OFF);
        for (int i = 0; i < packed.length; i++) {
            if (i < PACKED_OFF || i >= PACKED_OFF + packedLen) {
                assertEquals(PACKED_SENTINEL, packed[i], where + " " + quantizer.name() + ": wrote packed byte " + i + " outside its range");
            }
        }
        for (int i = 0; i < absmax.length; i++) {
            if (i < ABSMAX_OFF || i >= ABSMAX_OFF + blocks) {
                assertEquals(ABSMAX_SENTINEL, absmax[i], where + " " + quantizer.name() + ": wrote absmax " + i + " outside its range");
            }
        }
        return new Result(Arrays.copyOfRange(packed, PACKED_OFF, PACKED_OFF + packedLen),
                Arrays.copyOfRange(absmax, ABSMAX_OFF, ABSMAX_OFF + blocks));
    }

    // ---------------------------------------------------------------- documented outcomes (docs/numbers.md)

    static Stream<BlockwiseQuantizer> quantizers() {
        List<BlockwiseQuantizer> out = new ArrayList<>();
        for (QuantType q : QuantType.values()) {
            out.add(Quantizers.scalar(q));
            out.add(new VectorBlockwiseQuantizer(q));
            out.add(Quantizers.best(q));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("quantizers")
    void allZeroBlockHasAbsmaxZeroAndEveryCodeZero(BlockwiseQuantizer quantizer) {
        for (float zero : new float[] {0.0f, -0.0f}) {
            for (int bs : BLOCKSIZES) {
                float[] x = new float[bs];
                Arrays.fill(x, zero);
                byte[] packed = new byte[bs / 2];
                Arrays.fill(packed, (byte) 0x77);
                float[] absmax = {-1f};
                quantizer.quantize(x, 0, bs, bs, packed, 0, absmax, 0);
                assertEquals(Float.floatToRawIntBits(0.0f), Float.floatToRawIntBits(absmax[0]), "absmax is +0.0");
                assertArrayEquals(new byte[bs / 2], packed, quantizer.type() + " " + zero + " block: every code 0");
            }
        }
        // a lone zero: the last (partial) block, padding nibble included
        byte[] packed = {(byte) 0x77};
        float[] absmax = {-1f};
        quantizer.quantize(new float[] {0f}, 0, 1, 64, packed, 0, absmax, 0);
        assertEquals(0f, absmax[0]);
        assertEquals(0, packed[0]);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("quantizers")
    void nanIsIgnoredByAbsmaxAndGetsCodeZero(BlockwiseQuantizer quantizer) {
        QuantType q = quantizer.type();
        float[] x = new float[64];
        for (int i = 0; i < 64; i++) {
            x[i] = (i % 2 == 0) ? Float.NaN : 0.25f;
        }
        x[1] = -0.5f;
        x[3] = 0.5f;
        byte[] packed = new byte[32];
        float[] absmax = new float[1];
        quantizer.quantize(x, 0, 64, 64, packed, 0, absmax, 0);
        assertEquals(0.5f, absmax[0]);
        for (int i = 0; i < 64; i += 2) {
            assertEquals(0, nibble(packed, 0, i), "NaN at " + i);
        }
        assertEquals(q == QuantType.NF4 ? 0 : 8 + 3, nibble(packed, 0, 1), "-0.5 of absmax 0.5 is -1");
        assertEquals(q == QuantType.NF4 ? 15 : 3, nibble(packed, 0, 3), "0.5 of absmax 0.5 is 1");
        assertEquals(q.encode(0.5f), nibble(packed, 0, 5));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("quantizers")
    void blockOfOnlyNaNHasAbsmaxZeroAndEveryCodeZero(BlockwiseQuantizer quantizer) {
        for (int bs : BLOCKSIZES) {
            float[] x = new float[bs];
            Arrays.fill(x, Float.NaN);
            x[bs - 1] = Float.intBitsToFloat(0xFFC00001); // another NaN
            byte[] packed = new byte[bs / 2];
            Arrays.fill(packed, (byte) 0x77);
            float[] absmax = {-1f};
            quantizer.quantize(x, 0, bs, bs, packed, 0, absmax, 0);
            assertEquals(Float.floatToRawIntBits(0.0f), Float.floatToRawIntBits(absmax[0]));
            assertArrayEquals(new byte[bs / 2], packed);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("quantizers")
    void infinityMakesAbsmaxInfiniteAndFiniteValuesScaleToZero(BlockwiseQuantizer quantizer) {
        QuantType q = quantizer.type();
        int zeroCode = q.encode(0.0f); // nf4: 7 (the code of 0.0); fp4: 0
        assertEquals(q == QuantType.NF4 ? 7 : 0, zeroCode);
        for (float inf : new float[] {Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
            float[] x = new float[128];
            Random rnd = new Random(3);
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) rnd.nextGaussian() * (i % 3 == 0 ? 1e30f : 0.02f);
            }
            x[10] = inf;
            x[11] = -inf;
            x[12] = Float.NaN;
            x[13] = -0.0f;
            x[14] = Float.MAX_VALUE;
            x[15] = -Float.MAX_VALUE;
            byte[] packed = new byte[64];
            float[] absmax = new float[2];
            quantizer.quantize(x, 0, 128, 64, packed, 0, absmax, 0);
            assertEquals(Float.POSITIVE_INFINITY, absmax[0]);
            for (int i = 0; i < 64; i++) {
                // inf * 0 and NaN are NaN: code 0; every finite x * 0 is +-0.0: the code of zero,
                // fp4 included, because -0.0 < 0 is false and its sign bit stays clear
                int expected = Float.isFinite(x[i]) ? zeroCode : 0;
                assertEquals(expected, nibble(packed, 0, i), inf + " block, element " + i + " = " + x[i]);
            }
            assertTrue(Float.isFinite(absmax[1]), "the next block is not affected");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("quantizers")
    void negativeZeroHasTheCodeOfPositiveZero(BlockwiseQuantizer quantizer) {
        float[] x = new float[64];
        x[0] = 1.0f;
        x[1] = -0.0f;
        x[2] = 0.0f;
        x[3] = -Float.MIN_VALUE; // scales to a tiny negative, not to -0.0
        byte[] packed = new byte[32];
        float[] absmax = new float[1];
        quantizer.quantize(x, 0, 64, 64, packed, 0, absmax, 0);
        int zero = quantizer.type() == QuantType.NF4 ? 7 : 0;
        assertEquals(zero, nibble(packed, 0, 1));
        assertEquals(zero, nibble(packed, 0, 2));
        assertEquals(quantizer.type() == QuantType.NF4 ? 7 : 8, nibble(packed, 0, 3), "fp4 keeps the sign of a tiny negative");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("quantizers")
    void oddCountPadsWithTheCodeOfZero(BlockwiseQuantizer quantizer) {
        float[] x = {0.3f, -0.7f, 1.0f};
        byte[] packed = new byte[2];
        float[] absmax = new float[1];
        quantizer.quantize(x, 0, 3, 64, packed, 0, absmax, 0);
        assertEquals(quantizer.type() == QuantType.NF4 ? 7 : 0, packed[1] & 0x0F);
        assertEquals(quantizer.type().encode(1.0f), (packed[1] >> 4) & 0x0F);
    }

    // ---------------------------------------------------------------- the decision tree vs threshold counting

    /** The counting form the fast paths use: the steps of every threshold exceeded, +8 for negative x on fp4. */
    static int countingCode(QuantType q, float[] thresholds, int[] steps, float x) {
        int code = 0;
        float v = x;
        if (q.signMagnitude()) {
            if (x < 0f) {
                code = 8;
            }
            v = Math.abs(x);
        }
        for (int i = 0; i < thresholds.length; i++) {
            if (v > thresholds[i]) {
                code += steps[i];
            }
        }
        return code;
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(QuantType.class)
    void thresholdCountingAgreesWithTheDecisionTree(QuantType q) {
        float[] t = q.thresholds();
        int[] s = q.steps();
        assertEquals(t.length, s.length);
        for (int i = 1; i < t.length; i++) {
            assertTrue(t[i - 1] < t[i], "thresholds sorted");
        }
        // every float with 2^-12 <= |x| <= 1.5, both signs (all thresholds lie in this range)
        int lo = Float.floatToRawIntBits(0x1p-12f);
        int hi = Float.floatToRawIntBits(1.5f);
        assertTrue(Math.abs(t[0]) > 0x1p-12f || q == QuantType.NF4);
        OptionalInt bad = IntStream.rangeClosed(lo, hi).parallel()
                .filter(b -> disagree(q, t, s, Float.intBitsToFloat(b)) || disagree(q, t, s, -Float.intBitsToFloat(b)))
                .findAny();
        assertTrue(bad.isEmpty(), () -> q + ": the forms disagree at +-" + Float.intBitsToFloat(bad.getAsInt()));
        // below 2^-12 every value is on the same side of every threshold as 0: a strided sweep
        for (int b = 0; b < lo; b += 4099) {
            checkAgree(q, t, s, Float.intBitsToFloat(b));
            checkAgree(q, t, s, -Float.intBitsToFloat(b));
        }
        // and the values that matter most, exactly
        for (float x : specialValues()) {
            checkAgree(q, t, s, x);
        }
    }

    private static boolean disagree(QuantType q, float[] t, int[] s, float x) {
        return q.encode(x) != countingCode(q, t, s, x);
    }

    private static void checkAgree(QuantType q, float[] t, int[] s, float x) {
        int tree = q.encode(x);
        assertEquals(tree, countingCode(q, t, s, x), () -> q + ": the forms disagree at " + x + " (bits 0x" + Integer.toHexString(Float.floatToRawIntBits(x)) + ")");
        assertTrue(tree >= 0 && tree < 16);
    }

    static List<Float> specialValues() {
        List<Float> v = new ArrayList<>(List.of(
                Float.NaN, Float.intBitsToFloat(0x7F800001), Float.intBitsToFloat(0xFFC00000), Float.intBitsToFloat(0x7FFFFFFF),
                Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0.0f, -0.0f,
                Float.MIN_VALUE, -Float.MIN_VALUE, Float.MIN_NORMAL, -Float.MIN_NORMAL, Float.MAX_VALUE, -Float.MAX_VALUE,
                1.0f, -1.0f, Math.nextUp(1.0f), Math.nextDown(-1.0f), 1.5f, -1.5f, 2.0f, -2.0f, 1e30f, -1e30f));
        for (QuantType any : QuantType.values()) {
            for (float t : any.thresholds()) {
                for (float x : new float[] {t, -t}) {
                    v.add(x);
                    v.add(Math.nextUp(x));
                    v.add(Math.nextDown(x));
                }
            }
            for (float c : any.codebook()) {
                v.add(c);
                v.add(Math.nextUp(c));
                v.add(Math.nextDown(c));
            }
        }
        return v;
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(QuantType.class)
    void theCodeIsANearestCodeValue(QuantType q) {
        float[] book = q.codebook();
        Random rnd = new Random(11);
        List<Float> xs = new ArrayList<>(specialValues().stream().filter(f -> Float.isFinite(f) && Math.abs(f) <= 1f).toList());
        for (int i = 0; i < 500_000; i++) {
            xs.add(rnd.nextFloat() * 2f - 1f);
        }
        for (float x : xs) {
            double chosen = Math.abs((double) book[q.encode(x)] - x);
            double best = Double.MAX_VALUE;
            for (float c : book) {
                best = Math.min(best, Math.abs((double) c - x));
            }
            // the thresholds are the midpoints between neighbouring code values as bitsandbytes writes
            // them: rounded to float, and for fp4 short literals (0.583333 for 0.58333...)
            assertTrue(chosen <= best + 1e-6, q + ": " + x + " got " + book[q.encode(x)] + ", nearer exists at distance " + best);
        }
    }

    /** The vector path's counting on values that sit exactly on thresholds (absmax 1: the scaled value is x itself). */
    @ParameterizedTest(name = "{0}")
    @EnumSource(QuantType.class)
    void vectorPathOnExactThresholds(QuantType q) {
        List<Float> vals = new ArrayList<>(specialValues().stream().filter(f -> Float.isFinite(f) && Math.abs(f) <= 1f).toList());
        int bs = 64;
        int perBlock = bs - 1;
        int blocks = (vals.size() + perBlock - 1) / perBlock;
        float[] x = new float[blocks * bs];
        for (int b = 0; b < blocks; b++) {
            x[b * bs] = (b % 2 == 0) ? 1.0f : -1.0f; // absmax 1.0, reciprocal exactly 1
            for (int j = 1; j < bs; j++) {
                int k = b * perBlock + j - 1;
                x[b * bs + j] = k < vals.size() ? vals.get(k) : 0.0f;
            }
        }
        byte[] packed = new byte[x.length / 2];
        float[] absmax = new float[blocks];
        new VectorBlockwiseQuantizer(q).quantize(x, 0, x.length, bs, packed, 0, absmax, 0);
        for (int i = 0; i < x.length; i++) {
            assertEquals(1.0f, absmax[i / bs]);
            assertEquals(q.encode(x[i]), nibble(packed, 0, i), q + " at " + x[i]);
        }
    }

    // ---------------------------------------------------------------- double quantization

    @Test
    void dynamicMapEncodePicksANearestMapValue() {
        float[] map = DynamicMap.signed();
        for (int i = 1; i < map.length; i++) {
            assertTrue(map[i - 1] < map[i], "map sorted");
        }
        assertEquals(1.0f, map[255]);
        List<Float> xs = new ArrayList<>();
        Random rnd = new Random(5);
        for (int i = 0; i < 1_000_000; i++) {
            xs.add(rnd.nextFloat() * 2f - 1f);
            xs.add((float) (rnd.nextGaussian() * 0.01)); // dense region near zero
        }
        for (int i = 0; i < map.length; i++) {
            xs.add(map[i]);
            xs.add(Math.nextUp(map[i]));
            xs.add(Math.nextDown(map[i]));
            if (i + 1 < map.length) {
                float mid = (map[i] + map[i + 1]) * 0.5f;
                xs.add(mid);
                xs.add(Math.nextUp(mid));
                xs.add(Math.nextDown(mid));
            }
        }
        xs.addAll(List.of(-1.0f, 1.0f, 0.0f, -0.0f));
        for (float x : xs) {
            if (x < -1f || x > 1f) {
                continue;
            }
            int code = DynamicMap.encode(x);
            assertTrue(code >= 0 && code < 256);
            int upper = 0;
            while (upper < 255 && map[upper] < x) {
                upper++;
            }
            int lower = (map[upper] == x || upper == 0) ? upper : upper - 1;
            assertTrue(code == lower || code == upper,
                    x + " encoded as " + code + " (" + map[code] + "), not a neighbour " + lower + "/" + upper);
            int other = code == lower ? upper : lower;
            double mine = Math.abs((double) map[code] - x);
            double theirs = Math.abs((double) map[other] - x);
            // ties allowed; bitsandbytes compares with the float-rounded midpoint, so "nearest" holds to
            // within the rounding of that midpoint
            assertTrue(mine <= theirs + Math.ulp((map[lower] + map[upper]) * 0.5f),
                    x + " encoded as " + map[code] + " but " + map[other] + " is nearer");
        }
    }

    @Test
    void dequantizedAbsmaxIsWithinTheMapsResolution() {
        Random rnd = new Random(9);
        float[] map = DynamicMap.signed();
        for (int count : new int[] {1, 2, 255, 256, 257, 1000, 2752, 10000}) {
            for (int variant = 0; variant < 5; variant++) {
                float[] absmax = new float[count];
                for (int i = 0; i < count; i++) {
                    absmax[i] = switch (variant) {
                        case 0 -> (float) Math.abs(rnd.nextGaussian() * 0.02) + 0.05f;  // like weights' block absmax
                        case 1 -> 0.07f;                                                 // constant
                        case 2 -> 0.0f;                                                  // an all-zero tensor
                        case 3 -> i % 97 == 0 ? 40f : (float) Math.abs(rnd.nextGaussian()) * 0.01f; // outliers
                        default -> i % 5 == 0 ? 0f : rnd.nextFloat() * 1e-3f;           // some all-zero blocks
                    };
                }
                DoubleQuantizer.Result r = DoubleQuantizer.quantize(absmax, count);
                assertEquals(count, r.codes().length);
                assertEquals((count + 255) / 256, r.nestedAbsmax().length);
                double sum = 0;
                for (float a : absmax) {
                    sum += a;
                }
                assertEquals((float) (sum / count), r.offset(), "offset is the mean");
                for (int i = 0; i < count; i++) {
                    float nested = r.nestedAbsmax()[i / 256];
                    float deq = DoubleQuantizer.dequantizeAbsmax(r, i);
                    double err = Math.abs((double) deq - absmax[i]);
                    double halfGap;
                    if (nested == 0f) {
                        halfGap = 0;
                    } else {
                        double c = ((double) absmax[i] - r.offset()) / nested;
                        int up = 0;
                        while (up < 255 && map[up] < c) {
                            up++;
                        }
                        halfGap = up == 0 ? Math.abs(map[0] - c) : (map[up] - (double) map[up - 1]) / 2;
                    }
                    double slack = 4 * Math.ulp(Math.max(Math.abs(absmax[i]), Math.max(Math.abs(r.offset()), nested)));
                    assertTrue(err <= halfGap * nested + slack,
                            "count " + count + " variant " + variant + " absmax[" + i + "] = " + absmax[i] + " came back as " + deq
                                    + " (error " + err + ", resolution " + halfGap * nested + ")");
                }
            }
        }
    }

    @Test
    void infiniteAbsmaxMakesEveryDoubleQuantizedAbsmaxNaN() {
        for (int count : new int[] {3, 300}) {
            float[] absmax = new float[count];
            Arrays.fill(absmax, 0.05f);
            absmax[1] = Float.POSITIVE_INFINITY;
            DoubleQuantizer.Result r = DoubleQuantizer.quantize(absmax, count);
            assertEquals(Float.POSITIVE_INFINITY, r.offset());
            for (int i = 0; i < count; i++) {
                assertTrue(Float.isNaN(DoubleQuantizer.dequantizeAbsmax(r, i)), "absmax " + i);
            }
        }
    }

    // ---------------------------------------------------------------- inputs

    static float[] make(Input kind, int n, int bs, Random rnd) {
        float[] x = new float[n];
        for (int start = 0, b = 0; start < n; start += bs, b++) {
            int len = Math.min(bs, n - start);
            Input k = kind == Input.MIXED ? Input.values()[rnd.nextInt(Input.values().length - 1)] : kind;
            fillBlock(k, x, start, len, rnd, b);
        }
        return x;
    }

    private static void fillBlock(Input kind, float[] x, int off, int len, Random rnd, int blockIndex) {
        switch (kind) {
            case NORMAL -> gaussian(x, off, len, rnd, 0.02f);
            case HUGE -> {
                gaussian(x, off, len, rnd, 1e36f);
                if (blockIndex % 3 == 0) {
                    x[off + rnd.nextInt(len)] = rnd.nextBoolean() ? Float.MAX_VALUE : -Float.MAX_VALUE;
                }
            }
            case TINY -> gaussian(x, off, len, rnd, 1e-30f);
            case SUBNORMAL -> gaussian(x, off, len, rnd, (float) Math.pow(10, -45 + rnd.nextInt(9)));
            case ZERO_BLOCKS -> {
                if (blockIndex % 2 == 0) {
                    Arrays.fill(x, off, off + len, rnd.nextBoolean() ? 0.0f : -0.0f);
                } else {
                    gaussian(x, off, len, rnd, 0.02f);
                }
            }
            case SPECIALS -> {
                gaussian(x, off, len, rnd, 0.02f);
                float[] specials = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -0.0f, 0.0f,
                        Float.MIN_VALUE, -Float.MIN_VALUE, Float.MIN_NORMAL / 3, -Float.MIN_NORMAL, Float.MAX_VALUE, -Float.MAX_VALUE};
                for (int j = 0; j < len; j++) {
                    if (rnd.nextInt(20) == 0) {
                        x[off + j] = specials[rnd.nextInt(specials.length)];
                    }
                }
            }
            case NAN_BLOCKS -> {
                Arrays.fill(x, off, off + len, Float.NaN);
                switch (blockIndex % 4) {
                    case 1 -> x[off + rnd.nextInt(len)] = (float) rnd.nextGaussian();
                    case 2 -> x[off + rnd.nextInt(len)] = rnd.nextBoolean() ? Float.POSITIVE_INFINITY : Float.NEGATIVE_INFINITY;
                    case 3 -> {
                        for (int j = 0; j < len; j += 2) {
                            x[off + j] = (float) rnd.nextGaussian() * 0.02f;
                        }
                    }
                    default -> {
                    }
                }
            }
            case THRESHOLDS -> {
                float[] scales = {1.0f, 0.5f, 0x1p-10f, 4096f, 0.0173f, 3.7e-3f, 1.0e30f, 0.1f};
                float a = scales[rnd.nextInt(scales.length)];
                List<Float> vals = specialValues().stream().filter(f -> Float.isFinite(f) && Math.abs(f) <= 1f).toList();
                for (int j = 0; j < len; j++) {
                    float t = vals.get(rnd.nextInt(vals.size()));
                    float v = t * a;
                    x[off + j] = switch (rnd.nextInt(3)) {
                        case 0 -> v;
                        case 1 -> Math.nextUp(v);
                        default -> Math.nextDown(v);
                    };
                    if (Math.abs(x[off + j]) > a) {
                        x[off + j] = v;
                    }
                }
                x[off + rnd.nextInt(len)] = rnd.nextBoolean() ? a : -a;
            }
            case MIXED -> throw new IllegalStateException();
        }
    }

    private static void gaussian(float[] x, int off, int len, Random rnd, float scale) {
        for (int j = 0; j < len; j++) {
            x[off + j] = (float) rnd.nextGaussian() * scale;
        }
    }

    static int nibble(byte[] packed, int off, int i) {
        return (packed[off + i / 2] >> ((i & 1) == 0 ? 4 : 0)) & 0xF;
    }

    static int[] bits(float[] f) {
        int[] out = new int[f.length];
        for (int i = 0; i < f.length; i++) {
            out[i] = Float.floatToRawIntBits(f[i]);
        }
        return out;
    }
}
