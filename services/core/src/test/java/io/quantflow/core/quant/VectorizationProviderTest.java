package io.quantflow.core.quant;

import io.quantflow.core.merge.DeltaApplier;
import org.junit.jupiter.api.Test;

import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The provider's choice and its reason, for each way the vector paths can be ruled out, and for this
 * JVM: every dispatch site follows it. The build runs this class three times: as is, with 256-bit
 * vectors ({@code quantflow.vector.bits=256}) and with the vector paths disabled ({@code quantflow.vector=false}).
 */
class VectorizationProviderTest {
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /** A lanes probe that counts how often it is asked. */
    private static final class Lanes implements IntSupplier {
        final int lanes;
        final AtomicInteger asked = new AtomicInteger();

        Lanes(int lanes) {
            this.lanes = lanes;
        }

        @Override
        public int getAsInt() {
            asked.incrementAndGet();
            return lanes;
        }
    }

    @Test
    void vectorWhereTheModuleIsPresentAndWideEnough() {
        VectorizationProvider p = VectorizationProvider.choose(null, true, new Lanes(16), LE, 0);
        assertTrue(p.vector());
        assertEquals(16, p.lanes());
        assertEquals("vector-512", p.name());
        assertTrue(p.reason().contains("512-bit vectors (16 float lanes)"), p.reason());
        assertTrue(p.describe().startsWith("Vector API (vector-512), because "), p.describe());
        assertInstanceOf(VectorBlockwiseQuantizer.class, p.quantizer(QuantType.NF4));
        assertEquals(QuantType.FP4, p.quantizer(QuantType.FP4).type());
        // "true" (or anything but "false") leaves them on
        assertTrue(VectorizationProvider.choose("true", true, new Lanes(8), LE, 0).vector());
    }

    @Test
    void theWidthPropertyIsNamedWhenItSetTheWidth() {
        VectorizationProvider p = VectorizationProvider.choose(null, true, new Lanes(8), LE, 256);
        assertTrue(p.vector());
        assertEquals("vector-256", p.name());
        assertTrue(p.reason().contains("256-bit vectors (8 float lanes) as -Dquantflow.vector.bits=256 asks"), p.reason());
    }

    @Test
    void thePropertyForcesScalarWithoutProbingTheVectorApi() {
        for (String off : new String[] {"false", "FALSE", " false "}) {
            Lanes lanes = new Lanes(16);
            VectorizationProvider p = VectorizationProvider.choose(off, true, lanes, LE, 0);
            assertFalse(p.vector(), off);
            assertEquals("scalar", p.name());
            assertEquals(0, p.lanes());
            assertEquals("disabled by -Dquantflow.vector=" + off, p.reason());
            assertEquals("scalar reference, because disabled by -Dquantflow.vector=" + off, p.describe());
            assertEquals(0, lanes.asked.get(), "the Vector API is not touched when disabled");
            assertInstanceOf(ScalarBlockwiseQuantizer.class, p.quantizer(QuantType.NF4));
        }
    }

    @Test
    void scalarWithoutTheIncubatorModule() {
        Lanes lanes = new Lanes(16);
        VectorizationProvider p = VectorizationProvider.choose(null, false, lanes, LE, 0);
        assertFalse(p.vector());
        assertEquals("the jdk.incubator.vector module is not enabled (run with --add-modules jdk.incubator.vector)", p.reason());
        assertEquals(0, lanes.asked.get(), "without the module its classes are not loaded");
    }

    @Test
    void scalarWhenTheVectorsAreTooNarrow() {
        VectorizationProvider p = VectorizationProvider.choose(null, true, new Lanes(2), LE, 0);
        assertFalse(p.vector());
        assertEquals("the preferred float vector has 2 lanes; the scalar path is faster", p.reason());
        assertTrue(VectorizationProvider.choose(null, true, new Lanes(VectorizationProvider.MIN_LANES), LE, 0).vector());
    }

    @Test
    void scalarWhenTheVectorApiFailsToInitialise() {
        IntSupplier broken = () -> {
            throw new NoClassDefFoundError("jdk/incubator/vector/FloatVector");
        };
        VectorizationProvider p = VectorizationProvider.choose(null, true, broken, LE, 0);
        assertFalse(p.vector());
        assertTrue(p.reason().startsWith("the Vector API could not be initialised (java.lang.NoClassDefFoundError"), p.reason());
    }

    @Test
    void scalarOnBigEndianMachines() {
        VectorizationProvider p = VectorizationProvider.choose(null, true, new Lanes(16), ByteOrder.BIG_ENDIAN, 0);
        assertFalse(p.vector());
        assertTrue(p.reason().contains("BIG_ENDIAN"), p.reason());
    }

    /** This JVM's choice: vector (the build enables the module) unless the property disables it; every site follows. */
    @Test
    void thisJvmsChoiceIsFollowedByEveryDispatchSite() {
        VectorizationProvider p = VectorizationProvider.get();
        String enabled = System.getProperty(VectorizationProvider.ENABLED_PROPERTY);
        if ("false".equals(enabled)) {
            assertFalse(p.vector());
            assertEquals("disabled by -Dquantflow.vector=false", p.reason());
        } else {
            assertTrue(p.vector(), p.reason());
            assertEquals(VectorLanes.count(), p.lanes());
            Integer bits = Integer.getInteger(VectorizationProvider.BITS_PROPERTY);
            if (bits != null) {
                assertEquals(bits / 32, p.lanes());
                assertTrue(p.reason().contains("-Dquantflow.vector.bits=" + bits), p.reason());
            }
        }
        for (QuantType q : QuantType.values()) {
            assertEquals(p.name(), Quantizers.best(q).name(), q.id());
        }
        assertEquals(p.name(), HalfFloats.bf16DecoderName());
        assertEquals(p.name(), DeltaApplier.best().name());
        assertEquals(p.name(), DoubleQuantizer.encoderName());
        assertEquals(p.name(), DtypeEncoding.bf16EncoderName());
    }
}
