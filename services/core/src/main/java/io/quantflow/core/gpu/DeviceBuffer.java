package io.quantflow.core.gpu;

import jcuda.driver.CUdeviceptr;
import jcuda.driver.JCudaDriver;

/** Device memory of a fixed size; freed once. The owning context must be current. */
final class DeviceBuffer implements AutoCloseable {
    final CUdeviceptr ptr = new CUdeviceptr();
    final long bytes;
    private boolean freed;

    DeviceBuffer(long bytes) {
        this.bytes = bytes;
        Cuda.check(JCudaDriver.cuMemAlloc(ptr, Math.max(bytes, 1)), "cuMemAlloc " + bytes + " bytes");
    }

    @Override
    public void close() {
        if (!freed) {
            freed = true;
            JCudaDriver.cuMemFree(ptr);
        }
    }
}
