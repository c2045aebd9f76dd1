package io.quantflow.core.convert;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.gpu.GpuBackend;
import io.quantflow.core.gpu.GpuProbe;
import io.quantflow.core.gpu.GpuTensorQuantizer;
import io.quantflow.core.quant.TensorQuantizer;

/** Resolves a request's {@link Device} against this machine and opens the matching quantizer. */
public final class Backends {
    private Backends() {
    }

    /** Fails fast, before any work, when the GPU is asked for and there is none. */
    public static void require(Device device) {
        if (device == Device.GPU) {
            GpuProbe probe = GpuBackend.probe();
            if (!probe.usable()) {
                throw QuantflowException.of(Reason.NO_GPU, "no CUDA device was found (" + probe.reason()
                        + "); use --device cpu or auto");
            }
        }
    }

    /**
     * The accelerator for {@code device}, or null to quantize on the CPU threads. AUTO takes the GPU
     * when the probe finds one and falls back to the CPU when it does not, or when the GPU cannot be
     * set up (its memory is taken, say).
     */
    public static TensorQuantizer openAccelerator(Device device) {
        boolean gpu = device == Device.GPU || (device == Device.AUTO && GpuBackend.probe().usable());
        if (gpu) {
            try {
                return GpuTensorQuantizer.open();
            } catch (QuantflowException e) {
                if (device == Device.GPU) {
                    throw e;
                }
            }
        }
        return null;
    }

    /** One line for {@code --verbose}: which device a request for {@code device} uses, and why. */
    public static String explain(Device device) {
        GpuProbe probe = GpuBackend.probe();
        return switch (device) {
            case CPU -> "device: cpu (as asked)";
            case GPU -> probe.usable() ? "device: gpu " + probe.device() : "device: none (no CUDA device: " + probe.reason() + ")";
            case AUTO -> probe.usable() ? "device: gpu " + probe.device() + " (found)"
                    : "device: cpu (no CUDA device: " + probe.reason() + ")";
        };
    }
}
