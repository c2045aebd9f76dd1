package io.quantflow.core.quant;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The tests run the vector quantizer at the width they say (the build runs them at 256 bits too). */
class VectorSpeciesTest {
    @Test
    void runsAtTheRequestedWidth() {
        assertNull(Quantizers.fallbackReason(), "the build enables jdk.incubator.vector");
        Integer bits = Integer.getInteger("quantflow.vector.bits");
        if (bits != null) {
            assertEquals(bits / 32, VectorBlockwiseQuantizer.lanes());
        } else {
            assertTrue(VectorBlockwiseQuantizer.lanes() >= 4);
        }
    }
}
