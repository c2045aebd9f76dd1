package io.quantflow.core.gpu;

import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JCudaDriver;

/**
 * The buffers one chunk needs on its way through, on the host (pinned) and on the device, and the
 * stream its copies and kernel run on. Sized for the largest chunk: {@code chunkBytes} of 16-bit
 * values, the smallest blocksize.
 */
final class GpuSlot implements AutoCloseable {
    final PinnedBuffer hostIn;
    final PinnedBuffer hostPacked;
    final PinnedBuffer hostAbsmax;
    final DeviceBuffer in;
    final DeviceBuffer packed;
    final DeviceBuffer absmax;
    final CUstream stream = new CUstream();
    private final AutoCloseable[] owned;

    GpuSlot(long chunkBytes, int minBlocksize) {
        long values = chunkBytes / 2;
        long packedBytes = (values / 2 + 4) & ~3L;
        long absmaxBytes = 4 * ((values + minBlocksize - 1) / minBlocksize);
        PinnedBuffer hi = null;
        PinnedBuffer hp = null;
        PinnedBuffer ha = null;
        DeviceBuffer di = null;
        DeviceBuffer dp = null;
        DeviceBuffer da = null;
        try {
            hi = new PinnedBuffer(chunkBytes);
            hp = new PinnedBuffer(packedBytes);
            ha = new PinnedBuffer(absmaxBytes);
            di = new DeviceBuffer(chunkBytes);
            dp = new DeviceBuffer(packedBytes);
            da = new DeviceBuffer(absmaxBytes);
            Cuda.check(JCudaDriver.cuStreamCreate(stream, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate");
        } catch (RuntimeException e) {
            closeAll(new AutoCloseable[] {hi, hp, ha, di, dp, da});
            throw e;
        }
        hostIn = hi;
        hostPacked = hp;
        hostAbsmax = ha;
        in = di;
        packed = dp;
        absmax = da;
        owned = new AutoCloseable[] {hostIn, hostPacked, hostAbsmax, in, packed, absmax};
    }

    /** Bytes of pinned host memory, and of device memory, that one slot holds. */
    static long bytes(long chunkBytes, int minBlocksize) {
        long values = chunkBytes / 2;
        return chunkBytes + ((values / 2 + 4) & ~3L) + 4 * ((values + minBlocksize - 1) / minBlocksize);
    }

    @Override
    public void close() {
        JCudaDriver.cuStreamDestroy(stream);
        closeAll(owned);
    }

    private static void closeAll(AutoCloseable[] all) {
        for (AutoCloseable c : all) {
            if (c != null) {
                try {
                    c.close();
                } catch (Exception ignored) {
                    // freeing: nothing left to do about a failure
                }
            }
        }
    }
}
