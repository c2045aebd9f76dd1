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
 * BENCHMARK ONLY: the reshape that was tried and not kept (one block walk and one vector loop for the
 * four entry points), timed in the same JMH run as the kept shape; to be deleted with the figures.
 * The Vector API fast path. Per block: a lane-wise max of |x|, the scalar IEEE reciprocal, then each
 * lane's code from the thresholds it exceeds (the same comparisons as the decision tree, so the same
 * codes): with 16 lanes or more by the {@link CodeBuckets bucket lookup}, packed in registers; narrower,
 * by binary search over a table held in one vector where it fits (16 lanes for nf4, 8 for fp4), else
 * as the sum of the {@link QuantType#steps() steps} of every threshold passed, then narrowed to bytes
 * and packed two to a byte with shifts.
 *
 * <p>The four entry points (float32 or bf16 values, measured or not) share one block walk
 * ({@link #run}): blocks go in batches of {@value #BATCH_BLOCKS}; a first pass takes each whole block's
 * largest |x| (and, measuring, its 16-value dequantization table), then {@link #batch} runs the one
 * vector loop over the blocks it takes, bf16 values decoded in registers. Blocks that hold a NaN (the
 * lane-wise max is NaN), blocks shorter than the blocksize (the last one of a tensor) and blocksizes
 * that are not a multiple of twice the vector length go through the scalar code, which defines their
 * result; so do the rare whole blocks the loop does not take ({@link #otherBlock}).
 */
public final class OneWalkVectorBlockwiseQuantizer implements BlockwiseQuantizer {
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
    /** Whether codes come from the bucket lookup (16 lanes or more); a constant, so the JIT keeps one of the two ways. */
    private static final boolean BUCKETS = L >= CodeBuckets.SIZE;
    /** L/2 bytes: the packed codes of one float vector (bucket path only). */
    private static final VectorSpecies<Byte> PACKED_BYTES = BUCKETS
            ? ByteVector.SPECIES_PREFERRED.withShape(VectorShape.forBitSize(L * 4)) : null;
    /** Narrower than 8 lanes the 16-value table takes four permutes: the reference measures as fast. */
    private static final boolean MEASURE_IN_REGISTERS = L >= 8;
    /** Measured blocks whose lane sums are added in float before they are added up in double. */
    static final int GROUP_BLOCKS = 16;
    /** Blocks per pass of {@link #maxima}, {@link #tables} and {@link #batch}. */
    private static final int BATCH_BLOCKS = 64;
    /** The largest blocksize the vector loop takes. */
    private static final int MAX_VECTOR_BLOCK = 4096;
    /** Ints of one block's dequantization table: the 16 code values, {@code L} lanes a part. */
    private static final int TABLE = Math.max(CodeBuckets.SIZE, L);
    /** In {@link Scratch#maxBits}: a block the vector loop does not take whatever its values (a NaN's bits). */
    private static final int NOT_VECTOR = 0x7FFFFFFF;

    private final QuantType type;
    private final float[] thresholds;
    private final float[] steps;
    /** thresholds[k-1] at lane k (lane 0 unused), when a table fits one vector; else null. */
    private final FloatVector searchTable;
    /** fp4: code of each count of thresholds exceeded. */
    private final FloatVector countToCode;
    /** The 16 code values, {@code L} lanes a part (one part with 16 lanes or more, two with 8). */
    private final FloatVector[] codebookParts;
    /** The bucket lookup ({@link CodeBuckets}) as vectors, when it fits (16 lanes or more); else null. */
    private final CodeBuckets buckets;
    private final IntVector bucketBase;
    private final IntVector bucketT1;
    private final IntVector bucketT2;
    private final IntVector bucketStep;
    private final ThreadLocal<Scratch> scratch = ThreadLocal.withInitial(Scratch::new);

    /** Where a call's values come from: float32 values from {@code floats[off]}, or little-endian bf16 bytes from {@code bf16[off]}. */
    private record Source(float[] floats, byte[] bf16, int off) {
    }

    /** Where a call's output goes: packed codes from {@code packed[packedOff]}, block absmax values from {@code absmax[absmaxOff]}. */
    private record Dest(byte[] packed, int packedOff, float[] absmax, int absmaxOff) {
    }

    /** A thread's working arrays. */
    private static final class Scratch {
        /** The batch's blocks' largest |x| as float32 bits, or {@link #NOT_VECTOR}. */
        final int[] maxBits = new int[BATCH_BLOCKS];
        /** The batch's blocks' dequantization tables (measured calls), {@link #TABLE} ints a block. */
        final int[] tables = new int[BATCH_BLOCKS * TABLE];
        /** Largest error, group's squared errors, group's squared values: {@code L} lanes each, carried between batches. */
        final float[] sums = new float[3 * L];
        /** Codes of one block before packing (threshold-search path). */
        final byte[] codes = new byte[MAX_VECTOR_BLOCK + 64];
        /** One part of a dequantization table, value by value. */
        final float[] table = new float[TABLE];
        /** A bf16 block decoded for the scalar code (grown for larger blocksizes). */
        float[] block = new float[MAX_VECTOR_BLOCK];

        float[] block(int len) {
            if (block.length < len) {
                block = new float[len];
            }
            return block;
        }
    }

    public OneWalkVectorBlockwiseQuantizer(QuantType type) {
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
        if (BUCKETS) {
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
        run(new Source(src, null, srcOff), n, blocksize, new Dest(packed, packedOff, absmax, absmaxOff), null, null);
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
        run(new Source(null, src, srcOff), n, blocksize, new Dest(packed, packedOff, absmax, absmaxOff), null, null);
    }

    /**
     * Quantizes and measures in one pass: each vector of values gets its codes as {@link #quantize} gives
     * them and is dequantized from a per-block table of the 16 possible values ({@code code value x absmax}
     * rounded to {@code dtype}) with one permute (two and a blend with 8 lanes); the squares of the error
     * and of the value, both divided by the block's absmax (so that they neither overflow nor underflow),
     * and the largest error are accumulated lane-wise; each block's lane sums are multiplied by absmax^2
     * and added lane-wise over {@link #GROUP_BLOCKS} blocks, whose lanes are then added and the result
     * added in double. Blocks with an absmax outside [2^-24, 2^24], and all blocks below 8 lanes, are
     * measured by the reference. See {@link QuantErrors} for how far these sums may differ from the reference's.
     */
    @Override
    public void quantize(float[] src, int srcOff, int n, int blocksize, byte[] packed, int packedOff,
                         float[] absmax, int absmaxOff, DType dtype, ErrorSums errors) {
        run(new Source(src, null, srcOff), n, blocksize, new Dest(packed, packedOff, absmax, absmaxOff),
                Objects.requireNonNull(dtype), Objects.requireNonNull(errors));
    }

    /**
     * Fused decode, quantize and measure: {@code n} little-endian bf16 values from {@code src[srcOff..]},
     * quantized and measured as {@link #quantize(float[], int, int, int, byte[], int, float[], int, DType, ErrorSums)}
     * does for their float32 values, with the same bytes and the same sums: the same walk, the same blocks
     * measured in registers (decoded there) and in the same groups; the others are decoded into a block
     * buffer and go the way the float path sends them.
     */
    @Override
    public void quantizeBf16(byte[] src, int srcOff, int n, int blocksize, byte[] packed, int packedOff,
                             float[] absmax, int absmaxOff, DType dtype, ErrorSums errors) {
        run(new Source(null, src, srcOff), n, blocksize, new Dest(packed, packedOff, absmax, absmaxOff),
                Objects.requireNonNull(dtype), Objects.requireNonNull(errors));
    }

    /** The block walk of every entry point; {@code errors} null for the calls that do not measure. */
    private void run(Source src, int n, int blocksize, Dest dst, DType dtype, ErrorSums errors) {
        Scratch s = scratch.get();
        boolean vectorBlocks = blocksize % (2 * L) == 0 && blocksize <= MAX_VECTOR_BLOCK;
        int blocks = (n + blocksize - 1) / blocksize;
        Arrays.fill(s.sums, 0f);
        int grouped = 0;
        for (int b0 = 0; b0 < blocks; b0 += BATCH_BLOCKS) {
            int count = Math.min(BATCH_BLOCKS, blocks - b0);
            maxima(src, n, blocksize, vectorBlocks, b0, count, s.maxBits);
            if (errors != null) {
                tables(count, dtype, s);
            }
            grouped = batch(src, n, blocksize, b0, count, dst, dtype, errors, s, grouped);
        }
        if (errors != null) {
            errors.add((long) grouped * blocksize, FloatVector.fromArray(F, s.sums, L).reduceLanes(VectorOperators.ADD),
                    FloatVector.fromArray(F, s.sums, 2 * L).reduceLanes(VectorOperators.ADD),
                    FloatVector.fromArray(F, s.sums, 0).reduceLanes(VectorOperators.MAX));
        }
    }

    /**
     * For blocks {@code [b0, b0 + count)}: the largest |x| of each whole block as float32 bits into
     * {@code maxBits[k]} (a bit pattern above +Inf's is a NaN, which the block holds), or
     * {@link #NOT_VECTOR} for the short last block and for blocksizes the vector loop does not take.
     */
    private static void maxima(Source src, int n, int blocksize, boolean vectorBlocks, int b0, int count, int[] maxBits) {
        for (int k = 0; k < count; k++) {
            int start = (b0 + k) * blocksize;
            if (!vectorBlocks || n - start < blocksize) {
                maxBits[k] = NOT_VECTOR;
            } else if (src.bf16() != null) {
                maxBits[k] = bf16MaxBits(src.bf16(), src.off() + 2 * start, blocksize) << 16;
            } else {
                maxBits[k] = floatMaxBits(src.floats(), src.off() + start, blocksize);
            }
        }
    }

    /** |x| as bits: for non-negative floats the integer order is the float order. */
    private static int floatMaxBits(float[] src, int off, int len) {
        IntVector m = FloatVector.fromArray(F, src, off).reinterpretAsInts().and(0x7FFFFFFF);
        for (int j = L; j < len; j += L) {
            m = m.max(FloatVector.fromArray(F, src, off + j).reinterpretAsInts().and(0x7FFFFFFF));
        }
        return m.reduceLanes(VectorOperators.MAX);
    }

    /** 2L bf16 values per load, |x| as 16-bit patterns (all non-negative as shorts). */
    private static int bf16MaxBits(byte[] src, int off, int len) {
        ShortVector m = ByteVector.fromArray(IN_BYTES, src, off).reinterpretAsShorts().and((short) 0x7FFF);
        for (int j = 2 * L; j < len; j += 2 * L) {
            m = m.max(ByteVector.fromArray(IN_BYTES, src, off + 2 * j).reinterpretAsShorts().and((short) 0x7FFF));
        }
        return m.reduceLanes(VectorOperators.MAX);
    }

    /** Whether the vector loop measures a block of this absmax: finite, within [2^-24, 2^24] (its squares scaled by 1/absmax stay normal). */
    private static boolean measuredInRegisters(int maxBits, float amax) {
        return MEASURE_IN_REGISTERS && maxBits <= 0x7F800000 && amax >= 0x1p-24f && amax <= 0x1p24f;
    }

    /** Whether the vector loop gives the codes of a block of this absmax without measuring: finite, and a reciprocal the bucket lookup takes. */
    private static boolean codedInRegisters(int maxBits, float inv) {
        return maxBits <= 0x7F800000 && (!BUCKETS || inv > 0f && inv < Float.POSITIVE_INFINITY);
    }

    /**
     * For the blocks of a measured batch the vector loop measures: the 16-value dequantization table into
     * {@code tables[k * TABLE ..]}: code value x absmax in float32, rounded to {@code dtype} as
     * {@link DtypeEncoding#round(DType, float)} does (bf16 lane-wise, the values being finite).
     */
    private void tables(int count, DType dtype, Scratch s) {
        for (int k = 0; k < count; k++) {
            int maxBits = s.maxBits[k];
            float amax = Float.intBitsToFloat(maxBits);
            if (!measuredInRegisters(maxBits, amax)) {
                continue;
            }
            for (int p = 0; p < codebookParts.length; p++) {
                IntVector table = codebookParts[p].mul(amax).reinterpretAsInts();
                if (dtype == DType.BF16) {
                    // round to nearest even bf16 (the values are finite): DtypeEncoding.bf16Bits lane-wise
                    table = table.add(table.lanewise(VectorOperators.LSHR, 16).and(1)).add(0x7FFF).and(0xFFFF0000);
                } else if (dtype != DType.F32) {
                    table = FloatVector.fromArray(F, scalarTable(p, amax, dtype, s.table), 0).reinterpretAsInts();
                }
                table.intoArray(s.tables, k * TABLE + p * L);
            }
        }
    }

    /**
     * Blocks {@code [b0, b0 + count)}, their maxima (and, measuring, tables) from the first pass: the one
     * vector loop for the blocks it takes, {@link #otherBlock} for the rest. Measuring, the running sums
     * (largest error, group's squared errors, group's squared values) come from and go back to
     * {@code s.sums}, and the blocks in the current group are given and returned.
     *
     * <p>Kept apart from the first pass and the thread-local lookup, and with the rare blocks in a method of
     * their own: in one method they took C2 past its node budget for inlining, which left vector operations
     * in the loop as calls boxing their results (several times slower). For the same reason every vector
     * here is defined on every path (a vector merged with a null is boxed).
     */
    private int batch(Source src, int n, int blocksize, int b0, int count, Dest dst, DType dtype, ErrorSums errors,
                      Scratch s, int grouped) {
        boolean measure = errors != null;
        float[] floats = src.floats();
        byte[] bf16 = src.bf16();
        boolean isBf16 = bf16 != null;
        byte[] packed = dst.packed();
        byte[] codes = s.codes;
        int[] tables = s.tables;
        FloatVector maxError = FloatVector.fromArray(F, s.sums, 0);
        FloatVector groupError = FloatVector.fromArray(F, s.sums, L);
        FloatVector groupValue = FloatVector.fromArray(F, s.sums, 2 * L);
        for (int k = 0; k < count; k++) {
            int b = b0 + k;
            int start = b * blocksize;
            int maxBits = s.maxBits[k];
            float amax = Float.intBitsToFloat(maxBits);
            float inv = 1.0f / amax;
            if (measure ? !measuredInRegisters(maxBits, amax) : !codedInRegisters(maxBits, inv)) {
                otherBlock(src, start, Math.min(blocksize, n - start), blocksize, maxBits, dst, b, dtype, errors, s);
                continue;
            }
            dst.absmax()[dst.absmaxOff() + b] = amax;
            int at = isBf16 ? src.off() + 2 * start : src.off() + start;
            int out = dst.packedOff() + start / 2;
            // the block's table (loaded whatever the call: junk when not measuring, and then unused)
            IntVector table = IntVector.fromArray(I, tables, k * TABLE);
            FloatVector t0 = table.reinterpretAsFloats();
            FloatVector t1 = L >= 16 ? t0 : IntVector.fromArray(I, tables, k * TABLE + L).reinterpretAsFloats();
            FloatVector squaredError = FloatVector.zero(F);
            FloatVector squaredValue = FloatVector.zero(F);
            for (int j = 0; j < blocksize; j += L) {
                FloatVector x = isBf16 ? bf16Vector(bf16, at + 2 * j) : FloatVector.fromArray(F, floats, at + j);
                FloatVector scaled = x.mul(inv);
                FloatVector code;
                if (BUCKETS) {
                    code = bucketCodes(scaled);
                    packInto(code, packed, out + j / 2);
                } else {
                    code = codesOf(scaled);
                    code.convertShape(VectorOperators.F2B, CODE_BYTES, 0).reinterpretAsBytes().intoArray(codes, j);
                }
                if (measure) {
                    FloatVector d = (BUCKETS ? bucketLookup(code, table) : lookup(code, t0, t1)).sub(x);
                    FloatVector dScaled = d.mul(inv);
                    squaredError = dScaled.fma(dScaled, squaredError);
                    squaredValue = scaled.fma(scaled, squaredValue);
                    maxError = maxError.max(d.abs());
                }
            }
            if (!BUCKETS) {
                pack(codes, blocksize, packed, out);
            }
            if (measure) {
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
        }
        maxError.intoArray(s.sums, 0);
        groupError.intoArray(s.sums, L);
        groupValue.intoArray(s.sums, 2 * L);
        return grouped;
    }

    /**
     * A block the vector loop does not take, as float32 values (a bf16 block decoded into the scratch
     * block): the short last block, a block holding a NaN and blocksizes the loop does not take by the
     * scalar reference; a whole block with a finite absmax (a zero or infinite reciprocal, or an absmax the
     * loop does not measure) by the threshold search. Measuring, the reference measures it.
     */
    private void otherBlock(Source src, int start, int len, int blocksize, int maxBits, Dest dst, int b, DType dtype,
                            ErrorSums errors, Scratch s) {
        float[] x;
        int xOff;
        if (src.bf16() != null) {
            x = s.block(len);
            xOff = 0;
            HalfFloats.decodeBf16Scalar(src.bf16(), src.off() + 2 * start, len, x, 0);
        } else {
            x = src.floats();
            xOff = src.off() + start;
        }
        int out = dst.packedOff() + start / 2;
        int at = dst.absmaxOff() + b;
        float amax;
        if (maxBits > 0x7F800000) {
            amax = ScalarBlockwiseQuantizer.blockAbsmax(x, xOff, len);
            dst.absmax()[at] = amax;
            ScalarBlockwiseQuantizer.quantizeBlock(type, x, xOff, len, 1.0f / amax, dst.packed(), out);
        } else {
            amax = Float.intBitsToFloat(maxBits);
            dst.absmax()[at] = amax;
            searchBlock(x, xOff, blocksize, 1.0f / amax, dst.packed(), out, s.codes);
        }
        if (errors != null) {
            QuantErrors.measure(x, xOff, len, blocksize, dst.packed(), out, dst.absmax(), at, type, dtype, errors);
        }
    }

    /** L bf16 values from {@code src[at..]} as float32: each 16-bit pattern shifted into the upper half. */
    private static FloatVector bf16Vector(byte[] src, int at) {
        ShortVector bf16 = ByteVector.fromArray(BF16_BYTES, src, at).reinterpretAsShorts();
        return ((IntVector) bf16.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
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

    /** Each lane's table value for a code as {@link #bucketCodes} gives it (2^23 + code): one permute by its low 4 bits. */
    private static FloatVector bucketLookup(FloatVector code, IntVector table) {
        return code.reinterpretAsInts().and(CodeBuckets.SIZE - 1).selectFrom(table).reinterpretAsFloats();
    }

    /**
     * Lanes {@code [part * L, part * L + L)} of a block's dequantization table, value by value
     * ({@link DtypeEncoding#round(DType, float)}), into {@code t}; for an absmax within [2^-24, 2^24]
     * (the blocks measured in registers), so every value is finite.
     */
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
        return "onewalk-vector-" + F.vectorBitSize();
    }
}
