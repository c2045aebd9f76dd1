package io.quantflow.core.gpu;

/**
 * Whether this process can quantize on a GPU: {@code usable}, and when not, {@code reason} says why
 * in a phrase ("the CUDA driver library libcuda.so.1 is not installed"). {@code device} names the GPU
 * that would be used.
 */
public record GpuProbe(boolean usable, String reason, String device) {

    static GpuProbe usable(String device) {
        return new GpuProbe(true, null, device);
    }

    static GpuProbe unusable(String reason) {
        return new GpuProbe(false, reason, null);
    }
}
