package io.quantflow.core.quant;

/**
 * bitsandbytes' signed dynamic 8-bit map ({@code create_dynamic_map(signed=True)}): 256 sorted values
 * in [-1, 1], dense near zero, with which double quantization stores each block's absmax in one byte.
 * Written to checkpoints as {@code nested_quant_map}. The table is given bit for bit, as the float32
 * values bitsandbytes computes; a test holds it to the map in the reference fixtures.
 */
public final class DynamicMap {
    private static final int[] BITS = {
            0xbf7e3333, 0xbf7a999a, 0xbf770000, 0xbf736666, 0xbf6fcccd, 0xbf6c3333, 0xbf68999a, 0xbf650000,
            0xbf616666, 0xbf5dcccd, 0xbf5a3333, 0xbf56999a, 0xbf530000, 0xbf4f6666, 0xbf4bcccd, 0xbf483333,
            0xbf44999a, 0xbf410000, 0xbf3d6666, 0xbf39cccd, 0xbf363334, 0xbf32999a, 0xbf2f0000, 0xbf2b6666,
            0xbf27cccd, 0xbf243334, 0xbf20999a, 0xbf1d0000, 0xbf196666, 0xbf15cccd, 0xbf123334, 0xbf0e999a,
            0xbf0b0000, 0xbf076666, 0xbf03cccc, 0xbf003333, 0xbef93332, 0xbef20000, 0xbeeacccc, 0xbee3999a,
            0xbedc6666, 0xbed53333, 0xbece0000, 0xbec6cccc, 0xbebf999a, 0xbeb86666, 0xbeb13333, 0xbeaa0000,
            0xbea2cccc, 0xbe9b999a, 0xbe946666, 0xbe8d3334, 0xbe860000, 0xbe7d9999, 0xbe6f3333, 0xbe60cccd,
            0xbe526666, 0xbe440000, 0xbe35999a, 0xbe273333, 0xbe18cccd, 0xbe0a6666, 0xbdf80000, 0xbddb3334,
            0xbdc9eb85, 0xbdc428f7, 0xbdbe6667, 0xbdb8a3d7, 0xbdb2e148, 0xbdad1eb8, 0xbda75c2a, 0xbda1999a,
            0xbd9bd70a, 0xbd96147b, 0xbd9051eb, 0xbd8a8f5d, 0xbd84cccd, 0xbd7e147b, 0xbd728f5d, 0xbd670a3d,
            0xbd5b851f, 0xbd500000, 0xbd447ae1, 0xbd38f5c3, 0xbd2d70a3, 0xbd21eb85, 0xbd166667, 0xbd0ae148,
            0xbcfeb852, 0xbce7ae15, 0xbcd0a3d7, 0xbcb9999a, 0xbca28f5d, 0xbc8b851f, 0xbc68f5c3, 0xbc3ae148,
            0xbc1f3b64, 0xbc160418, 0xbc0ccccd, 0xbc039581, 0xbbf4bc6a, 0xbbe24dd3, 0xbbcfdf3b, 0xbbbd70a4,
            0xbbab020d, 0xbb989374, 0xbb8624dd, 0xbb676c8a, 0xbb428f5c, 0xbb1db22d, 0xbaf1a9fc, 0xbaa7ef9d,
            0xba7765ff, 0xba59e83e, 0xba3c6a80, 0xba1eecc1, 0xba016f01, 0xb9c7e283, 0xb98ce705, 0xb923d70b,
            0xb8ba1f4b, 0xb88aefb3, 0xb8378034, 0xb7b24206, 0xb70205ff, 0xb65a1a94, 0xb513a3b7, 0x00000000,
            0x3513a3b7, 0x365a1a94, 0x370205ff, 0x37b24206, 0x38378034, 0x388aefb3, 0x38ba1f4b, 0x3923d70b,
            0x398ce705, 0x39c7e283, 0x3a016f01, 0x3a1eecc1, 0x3a3c6a80, 0x3a59e83e, 0x3a7765ff, 0x3aa7ef9d,
            0x3af1a9fc, 0x3b1db22d, 0x3b428f5c, 0x3b676c8a, 0x3b8624dd, 0x3b989374, 0x3bab020d, 0x3bbd70a4,
            0x3bcfdf3b, 0x3be24dd3, 0x3bf4bc6a, 0x3c039581, 0x3c0ccccd, 0x3c160418, 0x3c1f3b64, 0x3c3ae148,
            0x3c68f5c3, 0x3c8b851f, 0x3ca28f5d, 0x3cb9999a, 0x3cd0a3d7, 0x3ce7ae15, 0x3cfeb852, 0x3d0ae148,
            0x3d166667, 0x3d21eb85, 0x3d2d70a3, 0x3d38f5c3, 0x3d447ae1, 0x3d500000, 0x3d5b851f, 0x3d670a3d,
            0x3d728f5d, 0x3d7e147b, 0x3d84cccd, 0x3d8a8f5d, 0x3d9051eb, 0x3d96147b, 0x3d9bd70a, 0x3da1999a,
            0x3da75c2a, 0x3dad1eb8, 0x3db2e148, 0x3db8a3d7, 0x3dbe6667, 0x3dc428f7, 0x3dc9eb85, 0x3ddb3334,
            0x3df80000, 0x3e0a6666, 0x3e18cccd, 0x3e273333, 0x3e35999a, 0x3e440000, 0x3e526666, 0x3e60cccd,
            0x3e6f3333, 0x3e7d9999, 0x3e860000, 0x3e8d3334, 0x3e946666, 0x3e9b999a, 0x3ea2cccc, 0x3eaa0000,
            0x3eb13333, 0x3eb86666, 0x3ebf999a, 0x3ec6cccc, 0x3ece0000, 0x3ed53333, 0x3edc6666, 0x3ee3999a,
            0x3eeacccc, 0x3ef20000, 0x3ef93332, 0x3f003333, 0x3f03cccc, 0x3f076666, 0x3f0b0000, 0x3f0e999a,
            0x3f123334, 0x3f15cccd, 0x3f196666, 0x3f1d0000, 0x3f20999a, 0x3f243334, 0x3f27cccd, 0x3f2b6666,
            0x3f2f0000, 0x3f32999a, 0x3f363334, 0x3f39cccd, 0x3f3d6666, 0x3f410000, 0x3f44999a, 0x3f483333,
            0x3f4bcccd, 0x3f4f6666, 0x3f530000, 0x3f56999a, 0x3f5a3333, 0x3f5dcccd, 0x3f616666, 0x3f650000,
            0x3f68999a, 0x3f6c3333, 0x3f6fcccd, 0x3f736666, 0x3f770000, 0x3f7a999a, 0x3f7e3333, 0x3f800000,
    };
    private static final float[] VALUES = new float[256];

    static {
        for (int i = 0; i < 256; i++) {
            VALUES[i] = Float.intBitsToFloat(BITS[i]);
        }
    }

    private DynamicMap() {
    }

    public static float[] signed() {
        return VALUES.clone();
    }

    public static float value(int code) {
        return VALUES[code & 0xFF];
    }

    /**
     * The code bitsandbytes' 8-bit blockwise kernel gives a scaled value: a 7-step binary search over
     * the sorted map, then the nearer neighbour by midpoint (ties go to the searched pivot).
     *
     * <p>Every comparison of that search is {@code x > map[pivot]}, which for a strictly increasing
     * map is {@code pivot < rank(x)} with {@code rank(x)} the count of map values below x. So the
     * pivots it ends on depend on the rank alone and are tabulated ({@link #SEARCH}), and so does the
     * midpoint it compares with ({@link #SPLIT}); the rank comes from a table indexed by the top 14
     * bits of x, which narrows it to at most two map values, counted without branches. The final
     * comparison is with the reference's own midpoint (computed with the same float operations), so
     * the result is identical to {@link #encodeReference} (a test sweeps the float range to hold it to
     * that), without its seven unpredictable branches.
     */
    public static int encode(float x) {
        if (x != x) {
            return 0;
        }
        int rank = BUCKETS[Float.floatToRawIntBits(x) >>> BUCKET_SHIFT] >>> 16;
        // a bucket holds at most two map values (checked below); the ones after it are all above x
        rank += (PADDED[rank] < x ? 1 : 0) + (PADDED[rank + 1] < x ? 1 : 0);
        int pair = PAIRS[rank];
        return x > SPLIT[rank] ? pair >>> 8 : pair & 0xFF;
    }

    static final int BUCKET_SHIFT = 18;
    /** Per bucket of floats: (count of map values below the bucket) << 16 | (map values inside it). */
    static final int[] BUCKETS = new int[1 << (32 - BUCKET_SHIFT)];
    /** Per rank 0..256: upperPivot << 16 | lowerPivot << 8 | pivot, where the reference search ends. */
    private static final int[] SEARCH = new int[257];
    /** The map followed by two +Inf, so that the rank step may read two values past any bucket. */
    static final float[] PADDED = new float[258];
    /**
     * Per rank: the reference's final choice as {@code x > SPLIT[rank] ? high : low}, with
     * {@code PAIRS[rank] = high << 8 | low}. Above the pivot it picks the upper pivot when x is above
     * the midpoint; below, the lower pivot when x is under the midpoint, i.e. the pivot when
     * {@code x >= midpoint}, which for a float x is {@code x > nextDown(midpoint)}.
     */
    static final float[] SPLIT = new float[257];
    static final int[] PAIRS = new int[257];

    static {
        for (int i = 1; i < 256; i++) {
            if (!(VALUES[i - 1] < VALUES[i])) {
                throw new ExceptionInInitializerError("dynamic map is not strictly increasing at " + i);
            }
        }
        for (int b = 0; b < BUCKETS.length; b++) {
            int lowBits = b << BUCKET_SHIFT;
            int highBits = lowBits | ((1 << BUCKET_SHIFT) - 1);
            float a = Float.intBitsToFloat(lowBits);
            float z = Float.intBitsToFloat(highBits);
            float min = Float.isNaN(a) ? (lowBits < 0 ? Float.NEGATIVE_INFINITY : Float.POSITIVE_INFINITY) : Math.min(a, Float.isNaN(z) ? a : z);
            float max = Float.isNaN(z) ? (lowBits < 0 ? Float.NEGATIVE_INFINITY : Float.POSITIVE_INFINITY) : Math.max(a, z);
            if (Float.isNaN(a)) {
                min = max;
            }
            int below = 0;
            while (below < 256 && VALUES[below] < min) {
                below++;
            }
            int upTo = below;
            while (upTo < 256 && VALUES[upTo] <= max) {
                upTo++;
            }
            BUCKETS[b] = below << 16 | (upTo - below);
        }
        for (int rank = 0; rank <= 256; rank++) {
            int pivot = 127;
            int upperPivot = 255;
            int lowerPivot = 0;
            for (int i = 64; i > 0; i >>= 1) {
                if (pivot < rank) {
                    lowerPivot = pivot;
                    pivot += i;
                } else {
                    upperPivot = pivot;
                    pivot -= i;
                }
            }
            SEARCH[rank] = upperPivot << 16 | lowerPivot << 8 | pivot;
            if (pivot < rank) {
                SPLIT[rank] = (VALUES[upperPivot] + VALUES[pivot]) * 0.5f;
                PAIRS[rank] = upperPivot << 8 | pivot;
            } else {
                SPLIT[rank] = Math.nextDown((VALUES[lowerPivot] + VALUES[pivot]) * 0.5f);
                PAIRS[rank] = pivot << 8 | lowerPivot;
            }
        }
        System.arraycopy(VALUES, 0, PADDED, 0, 256);
        PADDED[256] = Float.POSITIVE_INFINITY;
        PADDED[257] = Float.POSITIVE_INFINITY;
        for (int b : BUCKETS) {
            if ((b & 0xFFFF) > 2) {
                throw new ExceptionInInitializerError("a bucket of the dynamic map's lookup holds more than two values");
            }
        }
    }

    /** bitsandbytes' search exactly as it is written, kept to hold {@link #encode} to it in tests. */
    static int encodeReference(float x) {
        float[] code = VALUES;
        int pivot = 127;
        int upperPivot = 255;
        int lowerPivot = 0;
        float lower = -1.0f;
        float upper = 1.0f;
        float val = code[pivot];
        for (int i = 64; i > 0; i >>= 1) {
            if (x > val) {
                lowerPivot = pivot;
                lower = val;
                pivot += i;
            } else {
                upperPivot = pivot;
                upper = val;
                pivot -= i;
            }
            val = code[pivot];
        }
        if (upperPivot == 255) {
            upper = code[upperPivot];
        }
        if (lowerPivot == 0) {
            lower = code[lowerPivot];
        }
        if (x > val) {
            float midpoint = (upper + val) * 0.5f;
            return x > midpoint ? upperPivot : pivot;
        }
        float midpoint = (lower + val) * 0.5f;
        return x < midpoint ? lowerPivot : pivot;
    }
}
