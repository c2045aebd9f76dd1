package io.quantflow.core.gpu;

import io.quantflow.core.quant.QuantType;
import io.quantflow.core.safetensors.DType;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

import java.util.EnumMap;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The kernels of quantize.cu and how they are launched: block and grid sizes, the code tables they
 * read (uploaded once per quant type). Launches are asynchronous on the given stream; their errors
 * surface at the stream's next synchronization, which the callers check.
 */
final class Kernels implements AutoCloseable {
    /** Threads per CTA below blocksize 2048; blocksize / 8 above (one thread per 8 values). */
    static final int MIN_THREADS = 256;
    static final int VALUES_PER_THREAD = 8;

    private final CudaDevice device;
    private final Map<DType, CUfunction> quantize = new EnumMap<>(DType.class);
    private final Map<DType, CUfunction> quantizeAhead2 = new EnumMap<>(DType.class);
    /** Tiles each thread loads ahead: 1, or 2 for the _ahead2 kernels. */
    private final int ahead;
    private final Map<DType, CUfunction> dequantize = new EnumMap<>(DType.class);
    private final Map<QuantType, DeviceBuffer> tables = new EnumMap<>(QuantType.class);
    private final Map<QuantType, DeviceBuffer> codebooks = new EnumMap<>(QuantType.class);
    private final Map<String, Integer> residentCtas = new HashMap<>();

    Kernels(CudaDevice device, int ahead) {
        if (ahead != 1 && ahead != 2) {
            throw new IllegalArgumentException("loads ahead: 1 or 2, not " + ahead);
        }
        this.device = device;
        this.ahead = ahead;
        for (DType d : new DType[] {DType.BF16, DType.F16, DType.F32}) {
            String suffix = d.name().toLowerCase(Locale.ROOT);
            quantize.put(d, device.function("qf_quantize4_" + suffix));
            quantizeAhead2.put(d, device.function("qf_quantize4_" + suffix + "_ahead2"));
            dequantize.put(d, device.function("qf_dequantize4_" + suffix));
        }
    }

    static int threads(int blocksize) {
        return Math.max(MIN_THREADS, blocksize / VALUES_PER_THREAD);
    }

    /** Uploads the code tables and code books of {@code type} unless already there. */
    synchronized void prepare(QuantType type) {
        if (!tables.containsKey(type)) {
            tables.put(type, upload(CodeTable.of(type).words()));
            float[] book = type.codebook();
            int[] bits = new int[book.length];
            for (int i = 0; i < book.length; i++) {
                bits[i] = Float.floatToRawIntBits(book[i]);
            }
            codebooks.put(type, upload(bits));
        }
    }

    private static DeviceBuffer upload(int[] words) {
        DeviceBuffer b = new DeviceBuffer(4L * words.length);
        Cuda.check(JCudaDriver.cuMemcpyHtoD(b.ptr, Pointer.to(words), b.bytes), "cuMemcpyHtoD (code table)");
        return b;
    }

    /** The most values one quantize launch takes: the kernel indexes in 32 bits, with room for its grid's overshoot. */
    static final long MAX_QUANTIZE_VALUES = (1L << 31) - (1L << 26);

    /** Quantizes {@code n} values of {@code dtype} at {@code in} into {@code packed} and {@code absmax}. */
    void quantize(CUstream stream, DType dtype, QuantType type, int blocksize, CUdeviceptr in, long n,
                  CUdeviceptr packed, CUdeviceptr absmax) {
        quantize(stream, dtype, type, blocksize, in, n, packed, absmax, ahead);
    }

    int ahead() {
        return ahead;
    }

    void quantize(CUstream stream, DType dtype, QuantType type, int blocksize, CUdeviceptr in, long n,
                  CUdeviceptr packed, CUdeviceptr absmax, int ahead) {
        if (n < 1 || n > MAX_QUANTIZE_VALUES || Integer.bitCount(blocksize) != 1) {
            throw new IllegalArgumentException("cannot launch " + n + " values with blocksize " + blocksize);
        }
        DeviceBuffer table = tableOf(type);
        CUfunction f = (ahead == 2 ? quantizeAhead2 : quantize).get(dtype);
        int threads = threads(blocksize);
        long tiles = (n + (long) threads * VALUES_PER_THREAD - 1) / ((long) threads * VALUES_PER_THREAD);
        int grid = (int) Math.max(1, Math.min(tiles, (long) device.multiprocessors() * resident("q" + ahead + dtype, f, threads)));
        Pointer params = Pointer.to(Pointer.to(in), Pointer.to(new int[] {(int) n}),
                Pointer.to(new int[] {Integer.numberOfTrailingZeros(blocksize)}),
                Pointer.to(table.ptr), Pointer.to(packed), Pointer.to(absmax));
        Cuda.check(JCudaDriver.cuLaunchKernel(f, grid, 1, 1, threads, 1, 1, 0, stream, params, null),
                "cuLaunchKernel qf_quantize4_" + dtype);
    }

    /** Dequantizes {@code n} values into {@code out} as {@code dtype}: code value x absmax, rounded once. */
    void dequantize(CUstream stream, DType dtype, QuantType type, int blocksize, CUdeviceptr packed, CUdeviceptr absmax,
                    long n, CUdeviceptr out) {
        prepare(type);
        DeviceBuffer book;
        synchronized (this) {
            book = codebooks.get(type);
        }
        CUfunction f = dequantize.get(dtype);
        int threads = MIN_THREADS;
        long groups = (n + VALUES_PER_THREAD - 1) / VALUES_PER_THREAD;
        int grid = (int) Math.max(1, Math.min((groups + threads - 1) / threads,
                (long) device.multiprocessors() * resident("d" + dtype, f, threads)));
        Pointer params = Pointer.to(Pointer.to(packed), Pointer.to(absmax), Pointer.to(new long[] {n}),
                Pointer.to(new int[] {blocksize}), Pointer.to(book.ptr), Pointer.to(out));
        Cuda.check(JCudaDriver.cuLaunchKernel(f, grid, 1, 1, threads, 1, 1, 0, stream, params, null),
                "cuLaunchKernel qf_dequantize4_" + dtype);
    }

    private synchronized DeviceBuffer tableOf(QuantType type) {
        prepare(type);
        return tables.get(type);
    }

    /** CTAs of {@code threads} that fit on one multiprocessor at once: the persistent grid's width. */
    private synchronized int resident(String key, CUfunction f, int threads) {
        return residentCtas.computeIfAbsent(key + "/" + threads, k -> {
            int[] n = new int[1];
            Cuda.check(JCudaDriver.cuOccupancyMaxActiveBlocksPerMultiprocessor(n, f, threads, 0),
                    "cuOccupancyMaxActiveBlocksPerMultiprocessor");
            return Math.max(1, n[0]);
        });
    }

    @Override
    public synchronized void close() {
        tables.values().forEach(DeviceBuffer::close);
        codebooks.values().forEach(DeviceBuffer::close);
        tables.clear();
        codebooks.clear();
    }
}
