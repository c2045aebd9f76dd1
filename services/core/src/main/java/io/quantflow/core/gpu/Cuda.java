package io.quantflow.core.gpu;

import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import jcuda.driver.CUresult;

/**
 * Every CUDA driver call's result goes through {@link #check}: success returns, anything else
 * becomes a {@link QuantflowException}, OUT_OF_MEMORY for an allocation the device or the host
 * could not make and INTERNAL for the rest, naming the call and the driver's error.
 */
final class Cuda {
    private Cuda() {
    }

    static void check(int result, String call) {
        if (result != CUresult.CUDA_SUCCESS) {
            throw failure(result, call);
        }
    }

    static QuantflowException failure(int result, String call) {
        String error = CUresult.stringFor(result);
        if (result == CUresult.CUDA_ERROR_OUT_OF_MEMORY) {
            return QuantflowException.of(Reason.GPU_OUT_OF_MEMORY, "the GPU ran out of memory (" + call + ": " + error
                    + "); free GPU memory or convert with --device cpu");
        }
        return QuantflowException.of(Reason.GPU_ERROR, "CUDA " + call + " failed: " + error);
    }
}
