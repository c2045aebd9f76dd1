package io.quantflow.core.quant;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The float species of every Vector API path (quantizer, dynamic map, bf16 codec, LoRA delta): the
 * machine's preferred one, or narrower when {@value VectorizationProvider#BITS_PROPERTY} asks (the
 * build runs the vector tests again at 256 bits, the code paths of AVX2 machines). A constant, so
 * that the JIT compiles the vector operations. Only vector code loads this class: it links
 * {@code jdk.incubator.vector}. Which path runs at all is {@link VectorizationProvider}'s choice.
 */
public final class VectorLanes {
    public static final VectorSpecies<Float> FLOAT = species(Integer.getInteger(VectorizationProvider.BITS_PROPERTY, 0));

    private VectorLanes() {
    }

    /** Lanes of {@link #FLOAT}. */
    public static int count() {
        return FLOAT.length();
    }

    private static VectorSpecies<Float> species(int bits) {
        VectorSpecies<Float> preferred = FloatVector.SPECIES_PREFERRED;
        if (bits <= 0 || bits >= preferred.vectorBitSize()) {
            return preferred;
        }
        return preferred.withShape(VectorShape.forBitSize(Math.max(128, bits)));
    }
}
