package io.quantflow.core.quant;

import io.quantflow.core.safetensors.DType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.util.Arrays;
import java.util.Objects;

/**
 * The Vector API fast path. Per block: a lane-wise max of |x|, the scalar IEEE reciprocal, then each
 * lane's code from the thresholds it exceeds (the same comparisons as the decision tree, so the same
 * codes): by binary search over a table held in one vector where it fits (16 lanes for nf4, 8 for
 * fp4), else as the sum of the {@link QuantType#steps() steps} of every threshold passed; then
 * narrowed to bytes and packed two to a byte with shifts.
 *
 * <p>Blocks that hold a NaN (the lane-wise max is NaN), blocks shorter than the blocksize (the last
 * one of a tensor) and blocksizes that are not a multiple of the vector length go through the scalar
 * code, which defines their result.
 *
 * <p><b>Why each entry point keeps a block walk of its own, and the measured loop is written three
 * times</b> (float32 by bucket lookup, float32 by threshold search, bf16 decoded in registers): one walk
 * for all four entry points with one loop (the source and the measuring as flags) was tried and timed
 * against this shape in the same JMH run (bench/results/vector-quantizer-shape-2026-12-03.md). At
 * blocksize 64 a block is 4 vector steps, so every test and load a block adds shows: a first pass over a
 * batch of blocks for their maxima cost the float32 paths a quarter more time, and with the maxima and
 * tables in the walk C2 ran out of its inlining node budget ({@code NodeCountInliningCutoff}) and boxed
 * the measured loop's vectors (several times slower). C2 specialises a loop only by constants it can
 * see, so each entry point's walk keeps its loop straight. What is shared is what is not in a loop:
 * the destination region of the measured walks ({@link Dest}), one per-thread {@link Scratch}, the block helpers.
 */
public final class VectorBlockwiseQuantizer implements BlockwiseQuantizer {
    /** The float species of every vector path ({@link VectorLanes}); a constant, for the JIT to compile vector operations. */
    private static final VectorSpecies<Float> F = VectorLanes.FLOAT;
    private static final int L = F.length();
    /** Int lanes of the float vectors' shape: codes as table indexes. */
    private static final VectorSpecies<Integer> INDEX = IntVector.SPECIES_PREFERRED.withShape(F.vectorShape());
    /** Byte vector with one lane per float lane: where a vector of codes narrows to. */
    private static final VectorSpecies<Byte> CODE_BYTES = ByteVector.SPECIES_PREFERRED.withShape(VectorShape.forBitSize(L * 8));
    private static final VectorSpecies<Byte> IN_BYTES = ByteVector.SPECIES_PREFERRED.withShape(F.vectorShape());
    /** Byte vector half as long as {@link #IN_BYTES}: two codes become one byte. */
    private static final VectorSpecies<Byte> OUT_BYTES = ByteVector.SPECIES_PREFERRED.withShape(
            VectorShape.forBitSize(Math.max(64, IN_BYTES.vectorBitSize() / 2)));
    private static final VectorSpecies<Integer> I = F.withLanes(int.class);
    /** The bytes of L bf16 values (half the bits of {@link #F}). */
    private static final VectorSpecies<Byte> BF16_BYTES = ByteVector.SPECIES_PREFERRED.withShape(
            VectorShape.forBitSize(Math.max(64, L * 16)));
    /** L/2 bytes: the packed codes of one float vector (bucket path only, L >= 16). */
    private static final VectorSpecies<Byte> PACKED_BYTES = L >= CodeBuckets.SIZE
            ? ByteVector.SPECIES_PREFERRED.withShape(VectorShape.forBitSize(L * 4)) : null;

    private final QuantType type;
    private final float[] thresholds;
    private final float[] steps;
    /** thresholds[k-1] at lane k (lane 0 unused), when a table fits one vector; else null. */
    private final FloatVector searchTable;
    /** fp4: code of each count of thresholds exceeded. */
    private final FloatVector countToCode;
    /** Measured blocks whose lane sums are added in float before they are added up in double. */
    static final int GROUP_BLOCKS = 16;
    /** The 16 code values, {@code L} lanes a part (one part with 16 lanes or more, two with 8). */
    private final FloatVector[] codebookParts;
    /** The bucket lookup ({@link CodeBuckets}) as vectors, when it fits (16 lanes or more); else null. */
    private final CodeBuckets buckets;
    private final IntVector bucketBase;
    private final IntVector bucketT1;
    private final IntVector bucketT2;
    private final IntVector bucketStep;
    private final ThreadLocal<Scratch> scratch = ThreadLocal.withInitial(Scratch::new);

    /**
     * Where a call's output goes: packed codes from {@code packed[packedOff]}, block absmax values from
     * {@code absmax[absmaxOff]}. Block {@code b}'s codes start at {@link #packedAt}, its absmax is at {@link #absmaxAt}.
     */
    private record Dest(byte[] packed, int packedOff, float[] absmax, int absmaxOff) {
        int packedAt(int b, int blocksize) {
            return packedOff + b * blocksize / 2;
        }

        int absmaxAt(int b) {
            return absmaxOff + b;
        }
    }

    /** A thread's working arrays, looked up once per call. */
    private static final class Scratch {
        /** Codes of one block before packing (threshold-search path). */
        final byte[] codes = new byte[4096 + 64];
        /** One part of a dequantization table, value by value. */
        final float[] table = new float[Math.max(16, L)];
        /** A measured bf16 batch's blocks' largest |x| as 16-bit patterns ({@link #bf16Tables}). */
        final int[] maxBits = new int[BATCH_BLOCKS];
        /** A measured bf16 batch's blocks' dequantization tables, {@code L} ints a block ({@link #bf16Tables}). */
        final int[] tables = new int[BATCH_BLOCKS * L];
        /** A measured bf16 call's running sums between batches: largest error, group's squared errors and values, {@code L} lanes each. */
        final float[] sums = new float[3 * L];
        /** Decoded bf16 values: a block the vector code does not take, or a whole call (grown on demand). */
        private float[] decoded = new float[4096];

        float[] decoded(int n) {
            if (decoded.length < n) {
                decoded = new float[n];
            }
            return decoded;
        }
    }

    public VectorBlockwiseQuantizer(QuantType type) {
        this.type = type;
        this.thresholds = type.thresholds();
        int[] s = type.steps();
        this.steps = new float[s.length];
        for (int i = 0; i < s.length; i++) {
            steps[i] = s[i];
        }
        int parts = Math.max(1, 16 / L);
        codebookParts = new FloatVector[parts];
        float[] padded = new float[parts * L];
        System.arraycopy(type.codebook(), 0, padded, 0, 16);
        for (int p = 0; p < parts; p++) {
            codebookParts[p] = FloatVector.fromArray(F, padded, p * L);
        }
        if (L >= thresholds.length + 1) {
            float[] table = new float[L];
            Arrays.fill(table, Float.POSITIVE_INFINITY);
            table[0] = Float.NEGATIVE_INFINITY;
            System.arraycopy(thresholds, 0, table, 1, thresholds.length);
            searchTable = FloatVector.fromArray(F, table, 0);
            float[] map = new float[L];
            int code = 0;
            for (int k = 0; k <= thresholds.length; k++) {
                map[k] = code;
                if (k < steps.length) {
                    code += s[k];
                }
            }
            countToCode = FloatVector.fromArray(F, map, 0);
        } else {
            searchTable = null;
            countToCode = null;
        }
        if (L >= CodeBuckets.SIZE) {
            buckets = CodeBuckets.of(type);
            bucketBase = table(buckets.baseBits());
            bucketT1 = table(buckets.t1Bits());
            bucketT2 = table(buckets.t2Bits());
            bucketStep = table(buckets.stepBits());
        } else {
            buckets = null;
            bucketBase = null;
            bucketT1 = null;
            bucketT2 = null;
            bucketStep = null;
        }
    }

    private static IntVector table(int[] sixteen) {
        int[] t = new int[L];
        for (int i = 0; i < L; i++) {
            t[i] = sixteen[i % CodeBuckets.SIZE];
        }
        return IntVector.fromArray(I, t, 0);
    }

    /** Lanes of the float vectors in use. */
    public static int lanes() {
        return L;
    }

    @Override
    public void quantize(float[] src, int srcOff, int n, int blocksize,
                         byte[] packed, int packedOff, float[] absmax, int absmaxOff) {
        int blocks = (n + blocksize - 1) / blocksize;
        boolean vectorBlocks = blocksize % (2 * L) == 0 && blocksize <= 4096;
        for (int b = 0; b < blocks; b++) {
            int start = b * blocksize;
            int len = Math.min(blocksize, n - start);
            int off = srcOff + start;
            int out = packedOff + start / 2;
            if (!vectorBlocks || len != blocksize) {
                absmax[absmaxOff + b] = scalarBlock(src, off, len, packed, out);
                continue;
            }
            // |x| as bits: for non-negative floats the integer order is the float order, and a bit
            // pattern above +Inf's is a NaN (which sends the block to the scalar code)
            IntVector m = FloatVector.fromArray(F, src, off).reinterpretAsInts().and(0x7FFFFFFF);
            for (int j = L; j < blocksize; j += L) {
                m = m.max(FloatVector.fromArray(F, src, off + j).reinterpretAsInts().and(0x7FFFFFFF));
            }
            int maxBits = m.reduceLanes(VectorOperators.MAX);
            if (maxBits > 0x7F800000) {
                absmax[absmaxOff + b] = scalarBlock(src, off, len, packed, out);
                continue;
            }
            float amax = Float.intBitsToFloat(maxBits);
            absmax[absmaxOff + b] = amax;
            float inv = BnbReciprocal.of(amax);
            if (buckets != null && inv > 0f && inv < Float.POSITIVE_INFINITY) {
                for (int j = 0; j < blocksize; j += L) {
                    FloatVector x = FloatVector.fromArray(F, src, off + j).mul(inv);
                    packInto(bucketCodes(x), packed, out + j / 2);
                }
            } else {
                // rare with the bucket lookup (a zero or infinite reciprocal): the scratch is looked up here, since
                // one more reference live across this loop (the scratch's, or the walk in a method of its own
                // taking it) cost the float path 15% at blocksize 64
                searchBlock(src, off, blocksize, inv, packed, out, scratch.get().codes);
            }
        }
    }

    /**
     * Fused decode: {@code n} little-endian bf16 values from {@code src[srcOff..]}, quantized as
     * {@link #quantize} quantizes their float32 values, with the same bytes. The block absmax comes
     * from the 16-bit patterns (a bf16 value is the upper half of its float32) and each vector of
     * values is decoded in registers, so no float array is written.
     */
    @Override
    public void quantizeBf16(byte[] src, int srcOff, int n, int blocksize,
                             byte[] packed, int packedOff, float[] absmax, int absmaxOff) {
        int blocks = (n + blocksize - 1) / blocksize;
        boolean vectorBlocks = buckets != null && blocksize % (2 * L) == 0 && blocksize <= 4096;
        float[] tmp = scratch.get().decoded(Math.min(blocksize, n));
        for (int b = 0; b < blocks; b++) {
            int start = b * blocksize;
            int len = Math.min(blocksize, n - start);
            int off = srcOff + 2 * start;
            int out = packedOff + start / 2;
            if (vectorBlocks && len == blocksize) {
                // 2L bf16 values per load, |x| as 16-bit patterns (all non-negative as shorts)
                ShortVector m = ByteVector.fromArray(IN_BYTES, src, off).reinterpretAsShorts().and((short) 0x7FFF);
                for (int j = 2 * L; j < blocksize; j += 2 * L) {
                    m = m.max(ByteVector.fromArray(IN_BYTES, src, off + 2 * j).reinterpretAsShorts().and((short) 0x7FFF));
                }
                int maxBits = m.reduceLanes(VectorOperators.MAX);
                if (maxBits <= 0x7F80) {
                    float amax = Float.intBitsToFloat(maxBits << 16);
                    float inv = BnbReciprocal.of(amax);
                    if (inv > 0f && inv < Float.POSITIVE_INFINITY) {
                        absmax[absmaxOff + b] = amax;
                        for (int j = 0; j < blocksize; j += L) {
                            ShortVector bf16 = ByteVector.fromArray(BF16_BYTES, src, off + 2 * j).reinterpretAsShorts();
                            FloatVector x = ((IntVector) bf16.convertShape(VectorOperators.S2I, I, 0))
                                    .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                            packInto(bucketCodes(x.mul(inv)), packed, out + j / 2);
                        }
                        continue;
                    }
                }
            }
            HalfFloats.decodeBf16Scalar(src, off, len, tmp, 0);
            quantize(tmp, 0, len, blocksize, packed, out, absmax, absmaxOff + b);
        }
    }

    /** The scalar reference for one block; returns its absmax. */
    private float scalarBlock(float[] src, int off, int len, byte[] packed, int out) {
        float amax = ScalarBlockwiseQuantizer.blockAbsmax(src, off, len);
        ScalarBlockwiseQuantizer.quantizeBlock(type, src, off, len, BnbReciprocal.of(amax), packed, out);
        return amax;
    }

    /** One whole block by threshold search or counting, narrowed into {@code codes} and packed. */
    private void searchBlock(float[] src, int off, int blocksize, float inv, byte[] packed, int out, byte[] codes) {
        for (int j = 0; j < blocksize; j += L) {
            FloatVector x = FloatVector.fromArray(F, src, off + j).mul(inv);
            FloatVector code = codesOf(x);
            code.convertShape(VectorOperators.F2B, CODE_BYTES, 0).reinterpretAsBytes().intoArray(codes, j);
        }
        pack(codes, blocksize, packed, out);
    }

    /**
     * The codes of L finite scaled values with |x| <= 1 + 2^-23, by {@link CodeBuckets}: a bucket
     * index from one fused multiply-add (the low bits of a float near 2^23), the bucket's base code and
     * thresholds by one permute each, then one or two compares. The codes come back as floats
     * 2^23 + code, whose low 4 bits are the code.
     */
    private FloatVector bucketCodes(FloatVector x) {
        boolean sm = buckets.signMagnitude();
        FloatVector v = sm ? x.abs() : x;
        IntVector idx = v.fma(buckets.scale(), buckets.magic()).reinterpretAsInts().and(CodeBuckets.SIZE - 1);
        FloatVector code = idx.selectFrom(bucketBase).reinterpretAsFloats();
        FloatVector t1 = idx.selectFrom(bucketT1).reinterpretAsFloats();
        if (sm) {
            FloatVector step = idx.selectFrom(bucketStep).reinterpretAsFloats();
            code = code.add(step, v.compare(VectorOperators.GT, t1));
            return code.add(8f, x.compare(VectorOperators.LT, 0f));
        }
        FloatVector t2 = idx.selectFrom(bucketT2).reinterpretAsFloats();
        return code.add(1f, v.compare(VectorOperators.GT, t1)).add(1f, v.compare(VectorOperators.GT, t2));
    }

    /**
     * Packs L codes (the low 4 bits of each lane) into L/2 bytes: as 64-bit lanes a pair is
     * {@code first | second << 32}, so {@code pair << 4 | pair >>> 32} has the packed byte in its low
     * 8 bits, which the narrowing to bytes keeps.
     */
    private static void packInto(FloatVector codes, byte[] packed, int at) {
        LongVector pairs = codes.reinterpretAsLongs();
        LongVector bytes = pairs.lanewise(VectorOperators.LSHL, 4).or(pairs.lanewise(VectorOperators.LSHR, 32));
        bytes.convertShape(VectorOperators.L2B, PACKED_BYTES, 0).reinterpretAsBytes().intoArray(packed, at);
    }

    /**
     * Quantizes and measures in one pass: each vector of values gets its codes as {@link #quantize} gives
     * them (by the bucket lookup, packed in registers, with 16 lanes or more; else by threshold search) and is
     * dequantized from a per-block table of the 16 possible values ({@code code value x absmax}
     * rounded to {@code dtype}) with one permute; the squares of the error and of the value, both
     * divided by the block's absmax (so that they neither overflow nor underflow), and the largest
     * error are accumulated lane-wise; each block's lane sums are multiplied by absmax^2 and added
     * lane-wise over {@link #GROUP_BLOCKS} blocks, whose lanes are then added and the result added in
     * double. See {@link QuantErrors} for how far these sums may differ from the reference's.
     */
    @Override
    public void quantize(float[] src, int srcOff, int n, int blocksize, byte[] packed, int packedOff,
                         float[] absmax, int absmaxOff, DType dtype, ErrorSums errors) {
        runMeasured(src, srcOff, n, blocksize, new Dest(packed, packedOff, absmax, absmaxOff), Objects.requireNonNull(dtype),
                Objects.requireNonNull(errors), scratch.get());
    }

    /** The walk of the measured {@link #quantize(float[], int, int, int, byte[], int, float[], int, DType, ErrorSums)}. */
    private void runMeasured(float[] src, int srcOff, int n, int blocksize, Dest dst, DType dtype, ErrorSums errors, Scratch s) {
        byte[] packed = dst.packed();
        int packedOff = dst.packedOff();
        float[] absmax = dst.absmax();
        int absmaxOff = dst.absmaxOff();
        int blocks = (n + blocksize - 1) / blocksize;
        boolean vectorBlocks = blocksize % (2 * L) == 0 && blocksize <= 4096;
        byte[] tmp = s.codes;
        FloatVector maxError = FloatVector.zero(F);
        // measured blocks' sums, times absmax^2, lane by lane; added up every GROUP_BLOCKS blocks
        FloatVector groupError = FloatVector.zero(F);
        FloatVector groupValue = FloatVector.zero(F);
        int grouped = 0;
        for (int b = 0; b < blocks; b++) {
            int start = b * blocksize;
            int len = Math.min(blocksize, n - start);
            int off = srcOff + start;
            if (!vectorBlocks || len != blocksize) {
                measuredScalarBlock(src, off, len, blocksize, dst, b, dtype, errors);
                continue;
            }
            // |x| as bits, as quantize takes it: a pattern above +Inf's is a NaN
            IntVector m = FloatVector.fromArray(F, src, off).reinterpretAsInts().and(0x7FFFFFFF);
            for (int j = L; j < blocksize; j += L) {
                m = m.max(FloatVector.fromArray(F, src, off + j).reinterpretAsInts().and(0x7FFFFFFF));
            }
            int maxBits = m.reduceLanes(VectorOperators.MAX);
            float amax = Float.intBitsToFloat(maxBits);
            if (maxBits > 0x7F800000) {
                measuredScalarBlock(src, off, len, blocksize, dst, b, dtype, errors);
                continue;
            }
            absmax[absmaxOff + b] = amax;
            float inv = BnbReciprocal.of(amax);
            // the in-register measure works on x / absmax, whose squares neither overflow nor underflow
            // here; far outside weights' range (or below 8 lanes) the reference measures the block
            boolean measureHere = errors != null && L >= 8 && amax >= 0x1p-24f && amax <= 0x1p24f;
            if (!measureHere) {
                codesBlock(src, off, blocksize, inv, packed, packedOff + start / 2, tmp);
                if (errors != null) {
                    // narrower than 8 lanes the 16-value table takes four permutes: the reference is as fast
                    QuantErrors.measure(src, off, len, blocksize, packed, packedOff + start / 2, absmax, absmaxOff + b,
                            type, dtype, errors);
                }
                continue;
            }
            FloatVector squaredError = FloatVector.zero(F);
            FloatVector squaredValue = FloatVector.zero(F);
            if (buckets != null) {
                // inv is finite and positive here (amax is within [2^-24, 2^24]): the bucket lookup's range
                // the block's table, written out here rather than called: a call C2 does not inline (the method is
                // past its inlining node budget) returns a boxed vector, and the loop ran several times slower
                IntVector table = codebookParts[0].mul(amax).reinterpretAsInts();
                if (dtype == DType.BF16) {
                    // round to nearest even bf16 (the values are finite): DtypeEncoding.bf16Bits lane-wise
                    table = table.add(table.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000);
                } else if (dtype != DType.F32) {
                    table = FloatVector.fromArray(F, scalarTable(0, amax, dtype, s.table), 0).reinterpretAsInts();
                }
                int out = packedOff + start / 2;
                for (int j = 0; j < blocksize; j += L) {
                    FloatVector x = FloatVector.fromArray(F, src, off + j);
                    FloatVector scaled = x.mul(inv);
                    FloatVector code = bucketCodes(scaled);
                    packInto(code, packed, out + j / 2);
                    FloatVector d = bucketLookup(code, table).sub(x);
                    FloatVector dScaled = d.mul(inv);
                    squaredError = dScaled.fma(dScaled, squaredError);
                    squaredValue = scaled.fma(scaled, squaredValue);
                    maxError = maxError.max(d.abs());
                }
            } else {
                FloatVector t0 = dequantTable(0, amax, dtype, s.table);
                FloatVector t1 = L >= 16 ? t0 : dequantTable(1, amax, dtype, s.table);
                for (int j = 0; j < blocksize; j += L) {
                    FloatVector x = FloatVector.fromArray(F, src, off + j);
                    FloatVector scaled = x.mul(inv);
                    FloatVector code = codesOf(scaled);
                    code.convertShape(VectorOperators.F2B, CODE_BYTES, 0).reinterpretAsBytes().intoArray(tmp, j);
                    FloatVector d = lookup(code, t0, t1).sub(x);
                    FloatVector dScaled = d.mul(inv);
                    squaredError = dScaled.fma(dScaled, squaredError);
                    squaredValue = scaled.fma(scaled, squaredValue);
                    maxError = maxError.max(d.abs());
                }
                pack(tmp, blocksize, packed, packedOff + start / 2);
            }
            FloatVector scale = FloatVector.broadcast(F, amax * amax);
            groupError = squaredError.fma(scale, groupError);
            groupValue = squaredValue.fma(scale, groupValue);
            if (++grouped == GROUP_BLOCKS) {
                errors.add((long) grouped * blocksize, groupError.reduceLanes(VectorOperators.ADD),
                        groupValue.reduceLanes(VectorOperators.ADD), 0f);
                groupError = FloatVector.zero(F);
                groupValue = FloatVector.zero(F);
                grouped = 0;
            }
        }
        if (errors != null) {
            errors.add((long) grouped * blocksize, groupError.reduceLanes(VectorOperators.ADD),
                    groupValue.reduceLanes(VectorOperators.ADD), maxError.reduceLanes(VectorOperators.MAX));
        }
    }

    /** A block the vector code does not take (NaN inside, partial, odd blocksize): the scalar reference's codes and error. */
    private void measuredScalarBlock(float[] src, int off, int len, int blocksize, Dest dst, int b, DType dtype, ErrorSums errors) {
        float amax = ScalarBlockwiseQuantizer.blockAbsmax(src, off, len);
        dst.absmax()[dst.absmaxAt(b)] = amax;
        ScalarBlockwiseQuantizer.quantizeBlock(type, src, off, len, BnbReciprocal.of(amax), dst.packed(), dst.packedAt(b, blocksize));
        if (errors != null) {
            QuantErrors.measure(src, off, len, blocksize, dst.packed(), dst.packedAt(b, blocksize), dst.absmax(), dst.absmaxAt(b),
                    type, dtype, errors);
        }
    }

    /**
     * Fused decode, quantize and measure: {@code n} little-endian bf16 values from {@code src[srcOff..]},
     * quantized and measured as {@link #quantize(float[], int, int, int, byte[], int, float[], int, DType, ErrorSums)}
     * does for their float32 values, with the same bytes and the same sums (blocks are grouped alike). Whole
     * blocks with a finite absmax within [2^-24, 2^24] are decoded in registers; the others (the last, short
     * block; NaN; absmax outside that range) are decoded into a block buffer and go the way the float path
     * sends them. Without the bucket lookup (fewer than 16 lanes) or with blocksizes the vector code does not
     * take, the values are decoded into a buffer first.
     */
    @Override
    public void quantizeBf16(byte[] src, int srcOff, int n, int blocksize, byte[] packed, int packedOff,
                             float[] absmax, int absmaxOff, DType dtype, ErrorSums errors) {
        Objects.requireNonNull(dtype);
        Objects.requireNonNull(errors);
        Scratch s = scratch.get();
        Dest dst = new Dest(packed, packedOff, absmax, absmaxOff);
        boolean vectorBlocks = buckets != null && blocksize % (2 * L) == 0 && blocksize <= 4096;
        if (!vectorBlocks) {
            float[] values = s.decoded(n);
            HalfFloats.decodeBf16Scalar(src, srcOff, n, values, 0);
            runMeasured(values, 0, n, blocksize, dst, dtype, errors, s);
            return;
        }
        int blocks = (n + blocksize - 1) / blocksize;
        float[] acc = s.sums;
        Arrays.fill(acc, 0f);
        int grouped = 0;
        for (int b0 = 0; b0 < blocks; b0 += BATCH_BLOCKS) {
            int batch = Math.min(BATCH_BLOCKS, blocks - b0);
            bf16Tables(src, srcOff, n, blocksize, b0, batch, dtype, s);
            grouped = measuredBf16Batch(src, srcOff, n, blocksize, b0, batch, dst, dtype, errors, s, grouped);
        }
        errors.add((long) grouped * blocksize, FloatVector.fromArray(F, acc, L).reduceLanes(VectorOperators.ADD),
                FloatVector.fromArray(F, acc, 2 * L).reduceLanes(VectorOperators.ADD),
                FloatVector.fromArray(F, acc, 0).reduceLanes(VectorOperators.MAX));
    }

    /**
     * Blocks {@code [b0, b0 + count)} of the measured {@link #quantizeBf16}, their maxima and tables from
     * {@link #bf16Tables} in {@code s}; the running sums (largest error, group's squared errors, group's squared
     * values, {@code L} lanes each) in {@code s.sums}, the blocks in the current group given and returned. Kept apart
     * from the tables and the thread-local lookups: in one method they took C2 past its node budget for
     * inlining, which left vector operations in the loop as calls boxing their results (several times slower).
     */
    private int measuredBf16Batch(byte[] src, int srcOff, int n, int blocksize, int b0, int count, Dest dst,
                                  DType dtype, ErrorSums errors, Scratch s, int grouped) {
        byte[] packed = dst.packed();
        int packedOff = dst.packedOff();
        float[] absmax = dst.absmax();
        int absmaxOff = dst.absmaxOff();
        int[] maxes = s.maxBits;
        int[] tables = s.tables;
        float[] acc = s.sums;
        FloatVector maxError = FloatVector.fromArray(F, acc, 0);
        FloatVector groupError = FloatVector.fromArray(F, acc, L);
        FloatVector groupValue = FloatVector.fromArray(F, acc, 2 * L);
        for (int k = 0; k < count; k++) {
            int b = b0 + k;
            int start = b * blocksize;
            int len = Math.min(blocksize, n - start);
            int off = srcOff + 2 * start;
            int out = packedOff + start / 2;
            int maxBits = maxes[k];
            float amax = Float.intBitsToFloat(maxBits << 16);
            if (len != blocksize || maxBits > 0x7F80 || !(amax >= 0x1p-24f && amax <= 0x1p24f)) {
                oddBf16Block(src, off, len, blocksize, maxBits, dst, b, dtype, errors, s);
                continue;
            }
            absmax[absmaxOff + b] = amax;
            float inv = BnbReciprocal.of(amax);
            IntVector table = IntVector.fromArray(I, tables, k * L);
            FloatVector squaredError = FloatVector.zero(F);
            FloatVector squaredValue = FloatVector.zero(F);
            for (int j = 0; j < blocksize; j += L) {
                ShortVector bf16 = ByteVector.fromArray(BF16_BYTES, src, off + 2 * j).reinterpretAsShorts();
                FloatVector x = ((IntVector) bf16.convertShape(VectorOperators.S2I, I, 0))
                        .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
                FloatVector scaled = x.mul(inv);
                FloatVector code = bucketCodes(scaled);
                packInto(code, packed, out + j / 2);
                FloatVector d = bucketLookup(code, table).sub(x);
                FloatVector dScaled = d.mul(inv);
                squaredError = dScaled.fma(dScaled, squaredError);
                squaredValue = scaled.fma(scaled, squaredValue);
                maxError = maxError.max(d.abs());
            }
            FloatVector scale = FloatVector.broadcast(F, amax * amax);
            groupError = squaredError.fma(scale, groupError);
            groupValue = squaredValue.fma(scale, groupValue);
            if (++grouped == GROUP_BLOCKS) {
                errors.add((long) grouped * blocksize, groupError.reduceLanes(VectorOperators.ADD),
                        groupValue.reduceLanes(VectorOperators.ADD), 0f);
                groupError = FloatVector.zero(F);
                groupValue = FloatVector.zero(F);
                grouped = 0;
            }
        }
        maxError.intoArray(acc, 0);
        groupError.intoArray(acc, L);
        groupValue.intoArray(acc, 2 * L);
        return grouped;
    }

    /** Blocks per batch of {@link #bf16Tables}. */
    private static final int BATCH_BLOCKS = 64;

    /**
     * For blocks {@code [b0, b0 + count)} of a measured bf16 call: the largest |x| of each whole block as
     * a 16-bit pattern into {@code s.maxBits[k]} (0x7FFF, a NaN, for the short last block), and for those the
     * vector loop measures (finite absmax within [2^-24, 2^24]) the 16-value dequantization table into
     * {@code s.tables[k * L ..]}: code value x absmax in float32, rounded to {@code dtype} as
     * {@link DtypeEncoding#round(DType, float)} does (bf16 lane-wise, the values being finite).
     */
    private void bf16Tables(byte[] src, int srcOff, int n, int blocksize, int b0, int count, DType dtype, Scratch s) {
        int[] maxes = s.maxBits;
        int[] tables = s.tables;
        for (int k = 0; k < count; k++) {
            int start = (b0 + k) * blocksize;
            int off = srcOff + 2 * start;
            int maxBits = 0x7FFF;
            if (n - start >= blocksize) {
                ShortVector m = ByteVector.fromArray(IN_BYTES, src, off).reinterpretAsShorts().and((short) 0x7FFF);
                for (int j = 2 * L; j < blocksize; j += 2 * L) {
                    m = m.max(ByteVector.fromArray(IN_BYTES, src, off + 2 * j).reinterpretAsShorts().and((short) 0x7FFF));
                }
                maxBits = m.reduceLanes(VectorOperators.MAX);
            }
            maxes[k] = maxBits;
            float amax = Float.intBitsToFloat(maxBits << 16);
            if (maxBits > 0x7F80 || !(amax >= 0x1p-24f && amax <= 0x1p24f)) {
                continue;
            }
            IntVector table = codebookParts[0].mul(amax).reinterpretAsInts();
            if (dtype == DType.BF16) {
                // round to nearest even bf16 (the values are finite): DtypeEncoding.bf16Bits lane-wise
                table = table.add(table.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000);
            } else if (dtype != DType.F32) {
                table = FloatVector.fromArray(F, scalarTable(0, amax, dtype, s.table), 0).reinterpretAsInts();
            }
            table.intoArray(tables, k * L);
        }
    }

    /** Block {@code b} of a measured bf16 call that the vector loop does not measure, decoded: as runMeasured takes it. */
    private void oddBf16Block(byte[] src, int off, int len, int blocksize, int maxBits, Dest dst, int b, DType dtype,
                              ErrorSums errors, Scratch s) {
        float[] tmp = s.decoded(len);
        HalfFloats.decodeBf16Scalar(src, off, len, tmp, 0);
        if (len != blocksize || maxBits > 0x7F80) {
            measuredScalarBlock(tmp, 0, len, blocksize, dst, b, dtype, errors);
        } else {
            float amax = Float.intBitsToFloat(maxBits << 16);
            int out = dst.packedAt(b, blocksize);
            dst.absmax()[dst.absmaxAt(b)] = amax;
            codesBlock(tmp, 0, blocksize, BnbReciprocal.of(amax), dst.packed(), out, s.codes);
            QuantErrors.measure(tmp, 0, len, blocksize, dst.packed(), out, dst.absmax(), dst.absmaxAt(b), type, dtype, errors);
        }
    }

    /** One whole block's codes, packed: by the bucket lookup where it applies, else by {@link #searchBlock}. */
    private void codesBlock(float[] src, int off, int blocksize, float inv, byte[] packed, int out, byte[] codes) {
        if (buckets != null && inv > 0f && inv < Float.POSITIVE_INFINITY) {
            for (int j = 0; j < blocksize; j += L) {
                FloatVector x = FloatVector.fromArray(F, src, off + j).mul(inv);
                packInto(bucketCodes(x), packed, out + j / 2);
            }
        } else {
            searchBlock(src, off, blocksize, inv, packed, out, codes);
        }
    }

    /** Each lane's table value for a code as {@link #bucketCodes} gives it (2^23 + code): one permute by its low 4 bits. */
    private static FloatVector bucketLookup(FloatVector code, IntVector table) {
        return code.reinterpretAsInts().and(CodeBuckets.SIZE - 1).selectFrom(table).reinterpretAsFloats();
    }

    /**
     * Lanes {@code [part * L, part * L + L)} of the block's dequantization table: code value x absmax in
     * float32, rounded to {@code dtype} as {@link DtypeEncoding#round(DType, float)} does; for an absmax
     * within [2^-24, 2^24] (the blocks measured in registers), so every value is finite.
     */
    private FloatVector dequantTable(int part, float amax, DType dtype, float[] scratch) {
        return dtype == DType.F32 ? codebookParts[part].mul(amax) : FloatVector.fromArray(F, scalarTable(part, amax, dtype, scratch), 0);
    }

    /** The dequantization table for dtypes other than F32, value by value ({@link DtypeEncoding#round(DType, float)}), into {@code t}. */
    private float[] scalarTable(int part, float amax, DType dtype, float[] t) {
        for (int i = 0; i < L; i++) {
            int c = part * L + i;
            t[i] = c < 16 ? DtypeEncoding.round(dtype, type.value(c) * amax) : 0f;
        }
        return t;
    }

    /** Each lane's table value for its code (0..15): one permute with 16 lanes, two and a blend with 8. */
    private static FloatVector lookup(FloatVector code, FloatVector t0, FloatVector t1) {
        if (L >= 16) {
            IntVector index = (IntVector) code.convertShape(VectorOperators.F2I, INDEX, 0);
            return index.selectFrom(t0.reinterpretAsInts()).reinterpretAsFloats();
        }
        VectorMask<Float> high = code.compare(VectorOperators.GE, 8f);
        FloatVector index = code.sub(8f, high);
        return index.selectFrom(t0).blend(index.selectFrom(t1), high);
    }

    private FloatVector codesOf(FloatVector x) {
        if (searchTable != null) {
            return searchCodes(x);
        }
        FloatVector code = FloatVector.zero(F);
        FloatVector v = x;
        if (type.signMagnitude()) {
            VectorMask<Float> negative = x.compare(VectorOperators.LT, 0f);
            code = code.add(8f, negative);
            v = x.abs();
        }
        for (int t = 0; t < thresholds.length; t++) {
            code = code.add(steps[t], v.compare(VectorOperators.GT, thresholds[t]));
        }
        return code;
    }

    /**
     * The number of thresholds exceeded, by binary search: at each step the lane's probe threshold
     * is picked from a table with {@code selectFrom} (one permute), so nf4 takes 4 comparisons
     * instead of 15. fp4 then maps the count to its code with one more permute and adds the sign.
     */
    private FloatVector searchCodes(FloatVector x) {
        FloatVector v = type.signMagnitude() ? x.abs() : x;
        FloatVector count = FloatVector.zero(F);
        for (int step = (thresholds.length + 1) / 2; step > 0; step >>= 1) {
            FloatVector probe = count.add(step);
            count = count.add(step, v.compare(VectorOperators.GT, probe.selectFrom(searchTable)));
        }
        if (!type.signMagnitude()) {
            return count;
        }
        return count.selectFrom(countToCode).add(8f, x.compare(VectorOperators.LT, 0f));
    }

    /** codes[2k] << 4 | codes[2k+1] for a whole block, via 16-bit lanes (little-endian pairs). */
    private static void pack(byte[] codes, int count, byte[] packed, int packedOff) {
        int step = IN_BYTES.length();
        int j = 0;
        for (; j + step <= count; j += step) {
            ShortVector pairs = ByteVector.fromArray(IN_BYTES, codes, j).reinterpretAsShorts();
            ShortVector hi = pairs.and((short) 0x0F).lanewise(VectorOperators.LSHL, 4);
            ShortVector lo = pairs.lanewise(VectorOperators.LSHR, 8).and((short) 0x0F);
            hi.or(lo).convertShape(VectorOperators.S2B, OUT_BYTES, 0).reinterpretAsBytes().intoArray(packed, packedOff + j / 2);
        }
        for (; j < count; j += 2) {
            packed[packedOff + j / 2] = (byte) (codes[j] << 4 | codes[j + 1]);
        }
    }

    @Override
    public QuantType type() {
        return type;
    }

    @Override
    public String name() {
        return "vector-" + F.vectorBitSize();
    }
}
