package io.quantflow.core.quant;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link DynamicMap#encode} for a run of values, with the Vector API: the same table steps (bucket,
 * the two rank steps, the final split), each table read as a gather. Only referenced once
 * {@link DoubleQuantizer} has seen that the incubator module is present.
 */
final class VectorDynamicMap {
    private static final VectorSpecies<Float> F = VectorLanes.FLOAT;
    private static final VectorSpecies<Integer> I = F.withLanes(int.class);
    private static final int L = F.length();
    private static final ThreadLocal<int[]> INDEX = ThreadLocal.withInitial(() -> new int[L]);

    private VectorDynamicMap() {
    }

    static String name() {
        return "vector-" + F.vectorBitSize();
    }

    /** {@code codes[at + i] = DynamicMap.encode((values[start + i] - offset) * inv)} for i in [0, len). */
    static void encode(float[] values, int start, int len, float offset, float inv, byte[] codes, int at) {
        int[] index = INDEX.get();
        int i = 0;
        for (; i <= len - L; i += L) {
            FloatVector x = FloatVector.fromArray(F, values, start + i).sub(offset).mul(inv);
            VectorMask<Float> nan = x.test(VectorOperators.IS_NAN);
            x.reinterpretAsInts().lanewise(VectorOperators.LSHR, DynamicMap.BUCKET_SHIFT).intoArray(index, 0);
            IntVector rank = IntVector.fromArray(I, DynamicMap.BUCKETS, 0, index, 0).lanewise(VectorOperators.LSHR, 16);
            rank.intoArray(index, 0);
            FloatVector p0 = FloatVector.fromArray(F, DynamicMap.PADDED, 0, index, 0);
            FloatVector p1 = FloatVector.fromArray(F, DynamicMap.PADDED, 1, index, 0);
            rank = rank.add(1, p0.compare(VectorOperators.LT, x).cast(I)).add(1, p1.compare(VectorOperators.LT, x).cast(I));
            rank.intoArray(index, 0);
            FloatVector split = FloatVector.fromArray(F, DynamicMap.SPLIT, 0, index, 0);
            IntVector pair = IntVector.fromArray(I, DynamicMap.PAIRS, 0, index, 0);
            IntVector code = pair.and(0xFF).blend(pair.lanewise(VectorOperators.LSHR, 8), x.compare(VectorOperators.GT, split).cast(I));
            code = code.blend(0, nan.cast(I));
            code.convertShape(VectorOperators.I2B, ByteVector.SPECIES_PREFERRED.withShape(
                    VectorShape.forBitSize(L * 8)), 0).reinterpretAsBytes().intoArray(codes, at + i);
        }
        for (; i < len; i++) {
            codes[at + i] = (byte) DynamicMap.encode((values[start + i] - offset) * inv);
        }
    }
}
