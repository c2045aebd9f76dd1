package io.quantflow.core.convert;

import java.util.Locale;

/** Where the 4-bit quantization runs: a CUDA GPU when there is one (AUTO), or as asked. */
public enum Device {
    /** The GPU when {@link io.quantflow.core.gpu.GpuBackend#probe()} finds one, else the CPU, quietly. */
    AUTO,
    CPU,
    /** The GPU, or an INVALID_REQUEST failure saying why there is none. */
    GPU;

    public static Device parse(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "auto" -> AUTO;
            case "cpu" -> CPU;
            case "gpu", "cuda" -> GPU;
            default -> throw new IllegalArgumentException("--device must be auto, cpu or gpu, not '" + s + "'");
        };
    }
}
