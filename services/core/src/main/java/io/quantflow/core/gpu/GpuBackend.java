package io.quantflow.core.gpu;

import jcuda.CudaException;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Finds out, once per process, whether a CUDA GPU can be used: the driver library loads, a device
 * is there, and it is new enough for the kernels (compute capability 8.0: the PTX targets sm_80).
 * Never throws: on a machine without a GPU or driver the probe says why not, and the converter
 * quantizes on the CPU.
 */
public final class GpuBackend {
    /** The oldest GPUs the PTX runs on (compute_80). */
    static final int MIN_MAJOR = 8;

    private static GpuProbe probe;

    private GpuBackend() {
    }

    public static synchronized GpuProbe probe() {
        if (probe == null) {
            probe = run();
        }
        return probe;
    }

    private static GpuProbe run() {
        try {
            int r = JCudaDriver.cuInit(0);
            if (r != CUresult.CUDA_SUCCESS) {
                return GpuProbe.unusable("the CUDA driver found no usable GPU (cuInit: " + CUresult.stringFor(r) + ")");
            }
            int[] count = new int[1];
            r = JCudaDriver.cuDeviceGetCount(count);
            if (r != CUresult.CUDA_SUCCESS || count[0] == 0) {
                return GpuProbe.unusable("the CUDA driver sees no GPU");
            }
            CUdevice d = new CUdevice();
            Cuda.check(JCudaDriver.cuDeviceGet(d, 0), "cuDeviceGet");
            String name = CudaDevice.name(d);
            int major = CudaDevice.attribute(d, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
            int minor = CudaDevice.attribute(d, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
            if (major < MIN_MAJOR) {
                return GpuProbe.unusable(name + " has compute capability " + major + "." + minor
                        + "; the kernels need " + MIN_MAJOR + ".0 or newer");
            }
            return GpuProbe.usable(name);
        } catch (UnsatisfiedLinkError e) {
            return GpuProbe.unusable(linkFailure(e));
        } catch (LinkageError | CudaException e) {
            return GpuProbe.unusable("the CUDA bindings could not start: " + firstLine(e));
        } catch (RuntimeException e) {
            return GpuProbe.unusable("probing CUDA failed: " + firstLine(e));
        }
    }

    /** JCuda's message holds every attempt it made; the one that matters is a missing driver library. */
    static String linkFailure(UnsatisfiedLinkError e) {
        String m = String.valueOf(e.getMessage());
        Matcher missing = Pattern
                .compile("(lib[\\w.+-]+\\.so[\\w.]*): cannot open shared object file").matcher(m);
        if (missing.find()) {
            return "the NVIDIA driver library " + missing.group(1) + " is not installed";
        }
        return "the CUDA driver bindings could not be loaded: " + firstLine(e);
    }

    private static String firstLine(Throwable e) {
        String m = e.getMessage();
        if (m == null || m.isBlank()) {
            return e.getClass().getSimpleName();
        }
        m = m.strip();
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl).strip();
    }
}
