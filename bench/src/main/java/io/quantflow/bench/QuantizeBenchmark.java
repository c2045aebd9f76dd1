package io.quantflow.bench;

import io.quantflow.core.merge.DeltaApplier;
import io.quantflow.core.merge.LoraDelta;
import io.quantflow.core.merge.ScalarDeltaApplier;
import io.quantflow.core.merge.VectorDeltaApplier;
import io.quantflow.core.quant.BlockwiseQuantizer;
import io.quantflow.core.quant.DoubleQuantizer;
import io.quantflow.core.quant.DtypeEncoding;
import io.quantflow.core.quant.HalfFloats;
import io.quantflow.core.quant.QuantType;
import io.quantflow.core.quant.Quantizers;
import io.quantflow.core.quant.VectorBlockwiseQuantizer;
import io.quantflow.core.quant.VectorizationProvider;
import io.quantflow.core.safetensors.DType;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.Blackhole;

import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * CPU quantization of one bf16 weight tensor (by default [4096, 4096], N(0, 0.02^2), as a
 * checkpoint stores it) against a memory copy of the same bytes. One operation is the whole tensor;
 * {@link QuantizeBenchmarkMain} turns the times into elements/s, GB/s of bf16 input and ratios.
 *
 * <ul>
 *   <li>{@link #copy}: the baseline, {@code System.arraycopy} of the bf16 bytes into another array;</li>
 *   <li>{@link #decode}: bf16 to float32 only, chunk by chunk, scalar reference or Vector API: how much of
 *       the path decoding is;</li>
 *   <li>{@link #doubleQuantize}: the double quantization of the tensor's absmax values alone: the serial
 *       tail of the path, which bounds how far it scales over threads;</li>
 *   <li>{@link #quantize}: decode, 4-bit blockwise quantize, then double-quantize the absmax: the scalar
 *       reference ({@code HalfFloats.decodeScalar} + {@code Quantizers.scalar}, what a JVM without the
 *       Vector API runs) or the Vector API path ({@code HalfFloats.decode} + {@code VectorBlockwiseQuantizer}),
 *       on one thread or all; with {@code errors=on} also the error analysis the manifest records (squared error,
 *       squared values and largest error measured while quantizing, then the absmax outliers), against the same
 *       path without it.</li>
 * </ul>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class QuantizeBenchmark {

    /** The source tensor, shared by every benchmark so that all read the same bytes. */
    @State(Scope.Benchmark)
    public static class Tensor {
        @Param("4096")
        public int rows;
        @Param("4096")
        public int cols;

        static final double STD = 0.02;
        static final long SEED = 20240601L;

        public int elements;
        public byte[] bf16;

        @Setup(Level.Trial)
        public void setUp() {
            elements = Math.multiplyExact(rows, cols);
            bf16 = Bf16Tensors.randomNormal(elements, STD, SEED);
        }
    }

    /** Destination of the baseline copy. */
    @State(Scope.Thread)
    public static class CopyTarget {
        public byte[] dst;

        @Setup(Level.Trial)
        public void setUp(Tensor tensor) {
            dst = new byte[tensor.bf16.length];
        }
    }

    /** A reused float buffer of one chunk, for the decode-only benchmark. */
    @State(Scope.Thread)
    public static class DecodeBuffer {
        /** {@code scalar}: {@code HalfFloats.decodeScalar}; {@code vector}: {@code HalfFloats.decode}'s Vector API path. */
        @Param({"scalar", "vector"})
        public String impl;
        @Param("262144")
        public int chunk;

        public ChunkedQuantizer.Decoder decoder;
        public float[] floats;

        @Setup(Level.Trial)
        public void setUp() {
            decoder = decoder(impl);
            floats = new float[chunk];
        }
    }

    /** The quantize path: implementation, thread count, quant type, blocksize and chunk size. */
    @State(Scope.Thread)
    public static class Pipeline {
        /**
         * {@code scalar}: the reference ({@code Quantizers.scalar}); {@code vector}: the Vector API path,
         * decode then quantize; {@code fused}: the Vector API path's {@code quantizeBf16}, which decodes in
         * registers (what the converter runs on stored bf16 tensors; with {@code errors=on} its measuring
         * {@code quantizeBf16}).
         */
        @Param({"scalar", "vector", "fused"})
        public String impl;
        /** {@code 1}, or {@code all} for every available processor. */
        @Param({"1", "all"})
        public String threads;
        @Param("nf4")
        public String type;
        @Param("64")
        public int blocksize;
        @Param("262144")
        public int chunk;
        /** {@code on}: also measure the error as the converter does for the manifest (error sums while quantizing, then the absmax outliers). */
        @Param({"off", "on"})
        public String errors;

        public ChunkedQuantizer quantizer;
        public float[] absmax;

        @Setup(Level.Trial)
        public void setUp(Tensor tensor) {
            QuantType quantType = QuantType.parse(type);
            BlockwiseQuantizer q = switch (impl) {
                case "scalar" -> Quantizers.scalar(quantType);
                case "vector", "fused" -> new VectorBlockwiseQuantizer(quantType);
                default -> throw new IllegalArgumentException("impl is scalar, vector or fused, not " + impl);
            };
            int n = "all".equals(threads) ? Runtime.getRuntime().availableProcessors() : Integer.parseInt(threads);
            quantizer = new ChunkedQuantizer("fused".equals(impl) ? null : decoder(impl), q, blocksize, chunk, n, "on".equals(errors));
            absmax = new float[quantizer.blocks(tensor.elements)];
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            quantizer.close();
        }
    }

    /** The scalar path decodes with the reference, the vector path with {@code HalfFloats.decode} (checked to be vectorized). */
    static ChunkedQuantizer.Decoder decoder(String impl) {
        return switch (impl) {
            case "scalar" -> ChunkedQuantizer.SCALAR_DECODE;
            case "vector", "fused" -> {
                if (!HalfFloats.bf16DecoderName().startsWith("vector")) {
                    throw new IllegalStateException("HalfFloats.decode is not vectorized in this JVM ("
                            + VectorizationProvider.get().reason() + "): the vector benchmarks would measure the scalar decode");
                }
                yield ChunkedQuantizer.FAST_DECODE;
            }
            default -> throw new IllegalArgumentException("impl is scalar or vector, not " + impl);
        };
    }

    @Benchmark
    public byte[] copy(Tensor tensor, CopyTarget target) {
        System.arraycopy(tensor.bf16, 0, target.dst, 0, tensor.bf16.length);
        return target.dst;
    }

    @Benchmark
    public void decode(Tensor tensor, DecodeBuffer buffer, Blackhole bh) {
        float[] floats = buffer.floats;
        int chunk = buffer.chunk;
        for (int start = 0; start < tensor.elements; start += chunk) {
            int len = Math.min(chunk, tensor.elements - start);
            buffer.decoder.decode(tensor.bf16, 2 * start, len, floats);
            bh.consume(floats);
        }
    }

    /** The absmax values of the whole tensor, for the double-quantization-only benchmark. */
    @State(Scope.Thread)
    public static class Absmax {
        @Param("64")
        public int blocksize;

        public float[] values;
        public int count;

        @Setup(Level.Trial)
        public void setUp(Tensor tensor) {
            count = (tensor.elements + blocksize - 1) / blocksize;
            values = new float[count];
            float[] block = new float[blocksize];
            for (int b = 0; b < count; b++) {
                int start = b * blocksize;
                int len = Math.min(blocksize, tensor.elements - start);
                HalfFloats.decode(DType.BF16, tensor.bf16, 2 * start, len, block, 0);
                float m = 0f;
                for (int i = 0; i < len; i++) {
                    m = Math.max(m, Math.abs(block[i]));
                }
                values[b] = m;
            }
        }
    }

    @Benchmark
    public DoubleQuantizer.Result doubleQuantize(Absmax absmax) {
        return DoubleQuantizer.quantize(absmax.values, absmax.count);
    }

    @Benchmark
    public DoubleQuantizer.Result quantize(Tensor tensor, Pipeline pipeline) {
        return pipeline.quantizer.quantize(tensor.bf16, tensor.elements, pipeline.absmax, ChunkedQuantizer.DISCARD);
    }

    /** A LoRA adapter for the tensor: A [r, cols], B [rows, r], float32, scale 2. */
    @State(Scope.Thread)
    public static class Merge {
        @Param({"16", "64"})
        public int rank;
        /** {@code scalar}: the reference applier; {@code vector}: the Vector API applier. */
        @Param({"scalar", "vector"})
        public String impl;
        @Param("262144")
        public int chunk;

        public LoraDelta delta;
        public DeltaApplier applier;
        public float[] values;
        public byte[] out;

        @Setup(Level.Trial)
        public void setUp(Tensor tensor) {
            Random rnd = new Random(7);
            float[] a = new float[rank * tensor.cols];
            float[] b = new float[tensor.rows * rank];
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) (rnd.nextGaussian() * 0.01);
            }
            for (int i = 0; i < b.length; i++) {
                b[i] = (float) (rnd.nextGaussian() * 0.01);
            }
            delta = LoraDelta.linear(a, b, rank, tensor.cols, tensor.rows, 2f, false);
            applier = "scalar".equals(impl) ? new ScalarDeltaApplier() : new VectorDeltaApplier();
            values = new float[chunk];
            out = new byte[2 * chunk];
        }
    }

    /** Merge as the converter runs it, chunk by chunk: decode bf16, add the low-rank update, round back to bf16. */
    @Benchmark
    public byte[] merge(Tensor tensor, Merge merge) {
        for (int start = 0; start < tensor.elements; start += merge.chunk) {
            int len = Math.min(merge.chunk, tensor.elements - start);
            HalfFloats.decode(DType.BF16, tensor.bf16, 2 * start, len, merge.values, 0);
            merge.applier.apply(merge.delta, start, len, merge.values, 0);
            DtypeEncoding.encode(DType.BF16, merge.values, 0, len, merge.out, 0);
        }
        return merge.out;
    }
}
