package io.quantflow.core.gpu;

import io.quantflow.core.quant.DoubleQuantizer;
import io.quantflow.core.quant.HalfFloats;
import io.quantflow.core.quant.QuantType;
import io.quantflow.core.quant.ScalarBlockwiseQuantizer;
import io.quantflow.core.safetensors.DType;
import jcuda.Pointer;
import jcuda.driver.CUevent;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;

/**
 * Times the quantize kernel on a device-resident tensor (default bf16 [8192, 28672], the largest
 * matrix of a 70B Llama) with CUDA events, against a device-to-device copy of the same input
 * measured in the same run; counts bytes read + written. Also checks the whole result against
 * the scalar reference, and times double quantization of the absmax on the host (where quantflow
 * runs it, overlapped with the next tensor).
 *
 * <p>{@code java -cp ... io.quantflow.core.gpu.KernelBenchmark [rows cols]}
 */
public final class KernelBenchmark {
    private KernelBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        long rows = args.length > 0 ? Long.parseLong(args[0]) : 8192;
        long cols = args.length > 1 ? Long.parseLong(args[1]) : 28672;
        long n = rows * cols;
        try (GpuTensorQuantizer gpu = GpuTensorQuantizer.open(1L << 20, 1)) {
            CudaDevice device = gpu.device();
            Kernels kernels = gpu.kernels();
            device.makeCurrent();
            System.out.printf(Locale.ROOT, "device: %s, %d SMs, cc %s%n", device.name(), device.multiprocessors(), device.computeCapability());
            CUstream stream = new CUstream();
            Cuda.check(JCudaDriver.cuStreamCreate(stream, 0), "cuStreamCreate");
            List<String> table = new ArrayList<>();
            float copyTbs;
            boolean dqDone = false;
            try (DeviceBuffer in = new DeviceBuffer(4 * n); DeviceBuffer copy = new DeviceBuffer(4 * n);
                 DeviceBuffer packed = new DeviceBuffer((n + 1) / 2 + 4); DeviceBuffer absmax = new DeviceBuffer(4 * (n / 32 + 1))) {
                byte[] host = randomValues(n, DType.BF16, 1);
                upload(in, host);
                // baseline: copy the bf16 input (2n bytes read, 2n written)
                float copyMs = median(stream, 20, () -> Cuda.check(JCudaDriver.cuMemcpyDtoDAsync(copy.ptr, in.ptr, 2 * n, stream), "cuMemcpyDtoDAsync"));
                copyTbs = (float) (4.0 * n / (copyMs * 1e-3) / 1e12);
                table.add(String.format(Locale.ROOT, "%-34s %8.3f ms %7.3f TB/s  1.00x", "copy bf16 " + rows + "x" + cols + " (d2d)", copyMs, copyTbs));

                for (Object[] v : new Object[][] {{DType.BF16, QuantType.NF4, 64, 1}, {DType.BF16, QuantType.NF4, 64, 2},
                        {DType.BF16, QuantType.FP4, 64, 1}, {DType.BF16, QuantType.FP4, 64, 2},
                        {DType.BF16, QuantType.NF4, 32, 1}, {DType.BF16, QuantType.NF4, 256, 1}, {DType.BF16, QuantType.NF4, 256, 2},
                        {DType.BF16, QuantType.NF4, 4096, 1}, {DType.BF16, QuantType.NF4, 4096, 2},
                        {DType.F16, QuantType.NF4, 64, 1}, {DType.F16, QuantType.NF4, 64, 2}, {DType.F32, QuantType.NF4, 64, 1},
                        {DType.BF16, QuantType.NF4, 64, 1}}) {
                    DType d = (DType) v[0];
                    QuantType type = (QuantType) v[1];
                    int bs = (Integer) v[2];
                    int ahead = (Integer) v[3];
                    if (d != DType.BF16) {
                        upload(in, randomValues(n, d, 2));
                    }
                    kernels.prepare(type);
                    float ms = median(stream, 30, () -> kernels.quantize(stream, d, type, bs, in.ptr, n, packed.ptr, absmax.ptr, ahead));
                    long bytes = n * d.size() + (n + 1) / 2 + 4 * ((n + bs - 1) / bs);
                    double tbs = bytes / (ms * 1e-3) / 1e12;
                    table.add(String.format(Locale.ROOT, "%-34s %8.3f ms %7.3f TB/s  %.2fx", "quantize " + d + " " + type + " bs" + bs + (ahead == 2 ? " ahead2" : ""), ms, tbs, tbs / copyTbs));
                    if (d == DType.BF16 && bs == 64) {
                        verify(host, n, type, bs, packed, absmax, stream);
                    }
                    if (d == DType.BF16 && type == QuantType.NF4 && bs == 64 && ahead == 1 && !dqDone) {
                        table.add(doubleQuant(n, bs, absmax, stream, ms));
                        dqDone = true;
                    }
                    if (d != DType.BF16) {
                        upload(in, host);
                    }
                }
            }
            System.out.println();
            table.forEach(System.out::println);
        }
    }

    private static void upload(DeviceBuffer b, byte[] host) {
        Cuda.check(JCudaDriver.cuMemcpyHtoD(b.ptr, Pointer.to(host), host.length), "cuMemcpyHtoD");
    }

    /** Normal values (std 0.02) as bytes of {@code d}; generated in parallel. */
    static byte[] randomValues(long n, DType d, long seed) {
        byte[] out = new byte[Math.toIntExact(n * d.size())];
        int pieces = 64;
        long per = (n + pieces - 1) / pieces;
        IntStream.range(0, pieces).parallel().forEach(p -> {
            Random rnd = new Random(seed * 1000 + p);
            int from = (int) Math.min(n, p * per);
            int to = (int) Math.min(n, from + per);
            float[] f = new float[to - from];
            for (int i = 0; i < f.length; i++) {
                f[i] = (float) (rnd.nextGaussian() * 0.02);
            }
            HalfFloats.encode(d, f, 0, f.length, out, from * d.size());
        });
        return out;
    }

    /** Median time of one call, in ms, by CUDA events around each of {@code reps} calls after warm-up. */
    static float median(CUstream stream, int reps, Runnable launch) {
        CUevent start = new CUevent();
        CUevent end = new CUevent();
        Cuda.check(JCudaDriver.cuEventCreate(start, 0), "cuEventCreate");
        Cuda.check(JCudaDriver.cuEventCreate(end, 0), "cuEventCreate");
        for (int i = 0; i < 3; i++) {
            launch.run();
        }
        Cuda.check(JCudaDriver.cuStreamSynchronize(stream), "warm-up");
        float[] t = new float[reps];
        float[] ms = new float[1];
        for (int i = 0; i < reps; i++) {
            Cuda.check(JCudaDriver.cuEventRecord(start, stream), "cuEventRecord");
            launch.run();
            Cuda.check(JCudaDriver.cuEventRecord(end, stream), "cuEventRecord");
            Cuda.check(JCudaDriver.cuEventSynchronize(end), "cuEventSynchronize");
            Cuda.check(JCudaDriver.cuEventElapsedTime(ms, start, end), "cuEventElapsedTime");
            t[i] = ms[0];
        }
        JCudaDriver.cuEventDestroy(start);
        JCudaDriver.cuEventDestroy(end);
        Arrays.sort(t);
        return t[reps / 2];
    }

    /** The whole device result against the scalar reference, in parallel slices of whole blocks. */
    private static void verify(byte[] host, long n, QuantType type, int bs, DeviceBuffer packed, DeviceBuffer absmax, CUstream stream) {
        byte[] p = new byte[(int) ((n + 1) / 2)];
        float[] a = new float[(int) ((n + bs - 1) / bs)];
        Cuda.check(JCudaDriver.cuStreamSynchronize(stream), "sync");
        Cuda.check(JCudaDriver.cuMemcpyDtoH(Pointer.to(p), packed.ptr, p.length), "cuMemcpyDtoH");
        Cuda.check(JCudaDriver.cuMemcpyDtoH(Pointer.to(a), absmax.ptr, 4L * a.length), "cuMemcpyDtoH");
        int slices = 256;
        long per = ((n / slices) / bs + 1) * bs;
        long bad = IntStream.range(0, slices).parallel().mapToLong(s -> {
            long from = Math.min(n, s * per);
            int len = (int) Math.min(per, n - from);
            if (len <= 0) {
                return 0;
            }
            float[] x = new float[len];
            HalfFloats.decode(DType.BF16, host, (int) (from * 2), len, x, 0);
            byte[] rp = new byte[(len + 1) / 2];
            float[] ra = new float[(len + bs - 1) / bs];
            new ScalarBlockwiseQuantizer(type).quantize(x, 0, len, bs, rp, 0, ra, 0);
            long diff = 0;
            for (int i = 0; i < rp.length; i++) {
                diff += rp[i] != p[(int) (from / 2) + i] ? 1 : 0;
            }
            for (int i = 0; i < ra.length; i++) {
                diff += Float.floatToRawIntBits(ra[i]) != Float.floatToRawIntBits(a[(int) (from / bs) + i]) ? 1 : 0;
            }
            return diff;
        }).sum();
        System.out.println("verify " + type + " bs" + bs + " against the scalar reference: "
                + (bad == 0 ? "identical" : bad + " bytes/values DIFFER"));
        if (bad != 0) {
            throw new AssertionError("kernel output differs from the reference");
        }
    }

    /** The absmax copied back and double-quantized on the host, as a conversion does it. */
    private static String doubleQuant(long n, int bs, DeviceBuffer absmax, CUstream stream, float kernelMs) throws Exception {
        int blocks = (int) ((n + bs - 1) / bs);
        float[] a = new float[blocks];
        long t0 = System.nanoTime();
        Cuda.check(JCudaDriver.cuMemcpyDtoH(Pointer.to(a), absmax.ptr, 4L * blocks), "cuMemcpyDtoH");
        long t1 = System.nanoTime();
        int threads = Runtime.getRuntime().availableProcessors();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        double best = Double.MAX_VALUE;
        try {
            for (int rep = 0; rep < 5; rep++) {
                long s = System.nanoTime();
                float offset = DoubleQuantizer.offset(a, blocks);
                int nested = DoubleQuantizer.nestedBlocks(blocks);
                int perTask = 256;
                List<Future<?>> tasks = new ArrayList<>();
                for (int from = 0; from < nested; from += perTask) {
                    int f = from;
                    int to = Math.min(nested, from + perTask);
                    tasks.add(pool.submit(() -> {
                        int first = f * DoubleQuantizer.NESTED_BLOCKSIZE;
                        int last = Math.min(blocks, to * DoubleQuantizer.NESTED_BLOCKSIZE);
                        DoubleQuantizer.quantizeNested(a, blocks, offset, f, to, new byte[last - first], new float[to - f]);
                    }));
                }
                for (Future<?> t : tasks) {
                    t.get();
                }
                best = Math.min(best, (System.nanoTime() - s) / 1e6);
            }
        } finally {
            pool.shutdownNow();
        }
        double copyMs = (t1 - t0) / 1e6;
        return String.format(Locale.ROOT, "%-34s %8.3f ms (kernel %.3f + absmax d2h %.3f + host dq %.3f on %d threads; "
                + "in a conversion the host part overlaps the next tensor)", "quantize+double quant nf4 bs64",
                kernelMs + copyMs + best, kernelMs, copyMs, best, threads);
    }
}
