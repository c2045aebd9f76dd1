package io.quantflow.core.gpu;

import jcuda.Pointer;
import jcuda.driver.JCudaDriver;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Page-locked host memory (cuMemAllocHost), seen from Java as a direct little-endian ByteBuffer:
 * files are read into it and written from it, and the GPU copies to and from it asynchronously.
 */
final class PinnedBuffer implements AutoCloseable {
    final Pointer ptr = new Pointer();
    private final ByteBuffer view;
    private boolean freed;

    PinnedBuffer(long bytes) {
        if (bytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("pinned buffers are at most 2 GiB");
        }
        Cuda.check(JCudaDriver.cuMemAllocHost(ptr, Math.max(bytes, 1)), "cuMemAllocHost " + bytes + " bytes");
        view = ptr.getByteBuffer(0, Math.max(bytes, 1)).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** A fresh view of the first {@code bytes} bytes: position 0, limit {@code bytes}. */
    ByteBuffer slice(int bytes) {
        return view.duplicate().order(ByteOrder.LITTLE_ENDIAN).clear().limit(bytes);
    }

    @Override
    public void close() {
        if (!freed) {
            freed = true;
            JCudaDriver.cuMemFreeHost(ptr);
        }
    }
}
