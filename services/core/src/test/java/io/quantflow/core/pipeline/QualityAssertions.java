package io.quantflow.core.pipeline;

import io.quantflow.core.quality.LayerQuality;
import io.quantflow.core.quality.Quality;
import io.quantflow.core.quality.TensorQuality;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * Two quality sections of the same output are the same: counts, names, layers, bytes and storage
 * exactly; error figures within 1e-6 relative, the bound two measurements of the same weights agree
 * within (the error sums' last digits move between JIT tiers).
 */
public final class QualityAssertions {
    private static final double RELATIVE = 1e-6;

    private QualityAssertions() {
    }

    public static void assertSameQuality(Quality expected, Quality actual) {
        if (expected == null) {
            assertNull(actual, "a quality section where none was expected");
            return;
        }
        assertNotNull(actual, "no quality section");
        assertEquals(expected.errorDefinition(), actual.errorDefinition());
        assertEquals(expected.outlierFactor(), actual.outlierFactor());
        assertEquals(expected.dynamic(), actual.dynamic());
        close(expected.meanRelativeRms(), actual.meanRelativeRms(), "meanRelativeRms");
        close(expected.relativeRms(), actual.relativeRms(), "relativeRms");
        close(expected.maxRelativeRms(), actual.maxRelativeRms(), "maxRelativeRms");
        assertEquals(expected.layers().stream().map(LayerQuality::layer).toList(),
                actual.layers().stream().map(LayerQuality::layer).toList(), "layers");
        for (int i = 0; i < expected.layers().size(); i++) {
            LayerQuality e = expected.layers().get(i);
            LayerQuality a = actual.layers().get(i);
            String what = "layer " + e.layer();
            assertEquals(e.quantizedModules(), a.quantizedModules(), what);
            assertEquals(e.keptModules(), a.keptModules(), what);
            assertEquals(e.parameters(), a.parameters(), what);
            assertEquals(e.bytes(), a.bytes(), what);
            assertEquals(e.bitsPerParameter(), a.bitsPerParameter(), what);
            close(e.meanRelativeRms(), a.meanRelativeRms(), what + " meanRelativeRms");
            close(e.maxRelativeRms(), a.maxRelativeRms(), what + " maxRelativeRms");
        }
        assertEquals(expected.tensors().stream().map(TensorQuality::name).toList(),
                actual.tensors().stream().map(TensorQuality::name).toList(), "tensors");
        for (int i = 0; i < expected.tensors().size(); i++) {
            TensorQuality e = expected.tensors().get(i);
            TensorQuality a = actual.tensors().get(i);
            assertEquals(e.layer(), a.layer(), e.name());
            assertEquals(e.module(), a.module(), e.name());
            assertEquals(e.parameters(), a.parameters(), e.name());
            assertEquals(e.bytes(), a.bytes(), e.name());
            assertEquals(e.storedAs(), a.storedAs(), e.name());
            assertEquals(e.outlierBlockShare(), a.outlierBlockShare(), e.name());
            assertEquals(e.relativeRmsIfQuantized(), a.relativeRmsIfQuantized(), e.name());
            close(e.relativeRms(), a.relativeRms(), e.name() + " relativeRms");
            close(e.maxAbsError(), a.maxAbsError(), e.name() + " maxAbsError");
        }
    }

    /** Within 1e-6 relative (exactly, for 0). */
    public static void close(double expected, double actual, String what) {
        assertEquals(expected, actual, RELATIVE * Math.abs(expected), what);
    }
}
