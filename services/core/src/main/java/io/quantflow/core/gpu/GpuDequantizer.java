package io.quantflow.core.gpu;

import io.quantflow.core.quant.QuantType;
import io.quantflow.core.safetensors.DType;
import jcuda.Pointer;
import jcuda.driver.CUstream;
import jcuda.driver.JCudaDriver;

/**
 * 4-bit codes back to bf16, f16 or f32 on the GPU (code value x absmax in float32, rounded once to
 * the output type), for merging an adapter into a base that only exists in 4 bit. Gives the bytes
 * of {@link io.quantflow.core.quant.BlockwiseDequantizer}.
 */
public final class GpuDequantizer {
    private final GpuTensorQuantizer gpu;

    public GpuDequantizer(GpuTensorQuantizer gpu) {
        this.gpu = gpu;
    }

    /** Dequantizes {@code n} values; returns them as little-endian bytes of {@code out}. */
    public byte[] dequantize(QuantType type, byte[] packed, float[] absmax, int n, int blocksize, DType out) {
        if (!out.isDecodedFloat()) {
            throw new IllegalArgumentException("dequantizes to bf16, f16 or f32, not " + out);
        }
        if (packed.length < (n + 1) / 2 || absmax.length < (n + (long) blocksize - 1) / blocksize) {
            throw new IllegalArgumentException("packed or absmax too short for " + n + " values");
        }
        byte[] result = new byte[n * out.size()];
        gpu.device().makeCurrent();
        try (DeviceBuffer dPacked = new DeviceBuffer(((n + 1) / 2 + 4) & ~3L);
             DeviceBuffer dAbsmax = new DeviceBuffer(4L * absmax.length);
             DeviceBuffer dOut = new DeviceBuffer(result.length)) {
            CUstream stream = new CUstream();
            Cuda.check(JCudaDriver.cuStreamCreate(stream, 0), "cuStreamCreate");
            try {
                Cuda.check(JCudaDriver.cuMemcpyHtoD(dPacked.ptr, Pointer.to(packed), (n + 1) / 2), "cuMemcpyHtoD");
                Cuda.check(JCudaDriver.cuMemcpyHtoD(dAbsmax.ptr, Pointer.to(absmax), 4L * absmax.length), "cuMemcpyHtoD");
                gpu.kernels().dequantize(stream, out, type, blocksize, dPacked.ptr, dAbsmax.ptr, n, dOut.ptr);
                Cuda.check(JCudaDriver.cuStreamSynchronize(stream), "dequantize kernel (cuStreamSynchronize)");
                Cuda.check(JCudaDriver.cuMemcpyDtoH(Pointer.to(result), dOut.ptr, result.length), "cuMemcpyDtoH");
            } finally {
                JCudaDriver.cuStreamDestroy(stream);
            }
        }
        return result;
    }
}
