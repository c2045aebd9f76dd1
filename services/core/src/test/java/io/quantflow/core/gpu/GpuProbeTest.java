package io.quantflow.core.gpu;

import io.quantflow.core.Fixtures;
import io.quantflow.core.convert.Converter;
import io.quantflow.core.convert.Device;
import io.quantflow.core.error.ErrorCode;
import io.quantflow.core.error.QuantflowException;
import io.quantflow.core.error.Reason;
import io.quantflow.core.format.Formats;
import io.quantflow.core.quant.QuantOptions;
import io.quantflow.core.target.IfExists;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Machines without a GPU: the probe says why, GPU requests are refused up front, AUTO quietly uses the CPU. */
class GpuProbeTest {
    @TempDir
    Path tmp;

    @Test
    void theProbeAnswersWithoutThrowingAndGivesAReasonWhenUnusable() {
        GpuProbe p = GpuBackend.probe();
        assertNotNull(p);
        if (!p.usable()) {
            assertFalse(p.reason().isBlank());
            assertFalse(p.reason().contains("\n"), "one line: " + p.reason());
        } else {
            assertNotNull(p.device());
        }
        assertEquals(p, GpuBackend.probe(), "probed once");
    }

    @Test
    void withoutAGpuDeviceGpuIsAnInvalidRequestBeforeAnythingIsRead() {
        Assumptions.assumeFalse(GpuBackend.probe().usable(), "this machine has a GPU");
        Path target = tmp.resolve("out");
        QuantflowException e = assertThrows(QuantflowException.class, () -> new Converter().convert(
                new Converter.Request(tmp.resolve("no-such-model"), null, target, java.util.List.of(Formats.BNB_4BIT), QuantOptions.defaults(), null,
                        IfExists.FAIL, 1, Device.GPU), Converter.Listener.NONE));
        assertEquals(ErrorCode.INVALID_REQUEST, e.code());
        assertEquals(Reason.NO_GPU, e.reason(), e.getMessage());
        assertEquals(Reason.NO_GPU, assertThrows(QuantflowException.class, GpuTensorQuantizer::open).reason());
        assertFalse(Files.exists(target));
    }

    @Test
    void withoutAGpuAutoConvertsOnTheCpu() throws Exception {
        Assumptions.assumeFalse(GpuBackend.probe().usable(), "this machine has a GPU");
        Path target = tmp.resolve("auto");
        var result = new Converter().convert(new Converter.Request(Fixtures.path("tiny-llama/base-bf16"), null, target, java.util.List.of(Formats.BNB_4BIT), QuantOptions.defaults(), null, IfExists.FAIL, 2, Device.AUTO), Converter.Listener.NONE);
        assertTrue(result.manifest().options().quantizer().startsWith("cpu "), result.manifest().options().quantizer());
    }

    @Test
    void aMissingDriverLibraryIsNamed() {
        String reason = GpuBackend.linkFailure(new UnsatisfiedLinkError("Error while loading native library \"JCudaDriver\"\n"
                + "java.lang.UnsatisfiedLinkError: /tmp/libJCudaDriver-12.6.0-linux-x86_64.so: libcuda.so.1: cannot open shared object file: No such file or directory"));
        assertEquals("the NVIDIA driver library libcuda.so.1 is not installed", reason);
        assertEquals("the CUDA driver bindings could not be loaded: something else",
                GpuBackend.linkFailure(new UnsatisfiedLinkError("something else\nmore")));
    }
}
