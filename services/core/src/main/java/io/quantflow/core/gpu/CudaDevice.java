package io.quantflow.core.gpu;

import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.JCudaDriver;

import java.nio.charset.StandardCharsets;

/**
 * One CUDA device in use: its primary context and quantflow's kernel module loaded into it. Any
 * thread that issues CUDA calls for it first calls {@link #makeCurrent()}.
 */
final class CudaDevice implements AutoCloseable {
    private final CUdevice device;
    private final CUcontext context;
    private final CUmodule module;
    private final String name;
    private final int multiprocessors;
    private final int major;
    private final int minor;
    private boolean closed;

    private CudaDevice(CUdevice device, CUcontext context, CUmodule module, String name, int multiprocessors, int major, int minor) {
        this.device = device;
        this.context = context;
        this.module = module;
        this.name = name;
        this.multiprocessors = multiprocessors;
        this.major = major;
        this.minor = minor;
    }

    /** Opens device {@code ordinal}; the caller has probed that CUDA works ({@link GpuBackend#probe()}). */
    static CudaDevice open(int ordinal) {
        Cuda.check(JCudaDriver.cuInit(0), "cuInit");
        CUdevice device = new CUdevice();
        Cuda.check(JCudaDriver.cuDeviceGet(device, ordinal), "cuDeviceGet");
        String name = name(device);
        int sms = attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
        int major = attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
        int minor = attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
        CUcontext context = new CUcontext();
        Cuda.check(JCudaDriver.cuDevicePrimaryCtxRetain(context, device), "cuDevicePrimaryCtxRetain");
        try {
            Cuda.check(JCudaDriver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
            CUmodule module = new CUmodule();
            Cuda.check(JCudaDriver.cuModuleLoadData(module, KernelImage.ptx()), "cuModuleLoadData (quantize.ptx)");
            return new CudaDevice(device, context, module, name, sms, major, minor);
        } catch (RuntimeException e) {
            JCudaDriver.cuDevicePrimaryCtxRelease(device);
            throw e;
        }
    }

    static String name(CUdevice device) {
        byte[] b = new byte[256];
        Cuda.check(JCudaDriver.cuDeviceGetName(b, b.length, device), "cuDeviceGetName");
        int n = 0;
        while (n < b.length && b[n] != 0) {
            n++;
        }
        return new String(b, 0, n, StandardCharsets.UTF_8).trim();
    }

    static int attribute(CUdevice device, int attribute) {
        int[] v = new int[1];
        Cuda.check(JCudaDriver.cuDeviceGetAttribute(v, attribute, device), "cuDeviceGetAttribute");
        return v[0];
    }

    void makeCurrent() {
        Cuda.check(JCudaDriver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
    }

    CUfunction function(String name) {
        CUfunction f = new CUfunction();
        Cuda.check(JCudaDriver.cuModuleGetFunction(f, module, name), "cuModuleGetFunction " + name);
        return f;
    }

    String name() {
        return name;
    }

    int multiprocessors() {
        return multiprocessors;
    }

    String computeCapability() {
        return major + "." + minor;
    }

    /** Free and total device memory, in bytes. */
    long[] memory() {
        long[] free = new long[1];
        long[] total = new long[1];
        makeCurrent();
        Cuda.check(JCudaDriver.cuMemGetInfo(free, total), "cuMemGetInfo");
        return new long[] {free[0], total[0]};
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        JCudaDriver.cuCtxSetCurrent(context);
        JCudaDriver.cuModuleUnload(module);
        JCudaDriver.cuDevicePrimaryCtxRelease(device);
    }
}
