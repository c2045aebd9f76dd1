package io.quantflow.core.gpu;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;

import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;

/**
 * The kernels as PTX, built from kernels/quantize.cu by kernels/build.sh and committed as a resource
 * (a test rebuilds it and fails when it is stale), so that any machine builds and runs quantflow
 * without the CUDA toolkit: the driver compiles the PTX for the GPU it finds.
 */
final class KernelImage {
    static final String RESOURCE = "quantize.ptx";

    private KernelImage() {
    }

    /** The PTX text, NUL-terminated as cuModuleLoadData wants it. */
    static byte[] ptx() {
        try (InputStream in = KernelImage.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw QuantflowException.of(Reason.GPU_ERROR, "the GPU kernels (" + RESOURCE + ") are missing from this build");
            }
            byte[] text = in.readAllBytes();
            return Arrays.copyOf(text, text.length + 1);
        } catch (IOException e) {
            throw QuantflowException.of(Reason.GPU_ERROR, "cannot read the GPU kernels: " + e.getMessage(), e);
        }
    }
}
