package io.quantflow.core.ggml;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The float species of the ggml vector path: the preferred one, or narrower when
 * {@value GgmlVectorization#BITS_PROPERTY} asks. A constant, so that the JIT compiles the vector operations; only
 * vector code loads this class.
 */
final class GgmlVectorLanes {
    static final VectorSpecies<Float> FLOAT = species(Integer.getInteger(GgmlVectorization.BITS_PROPERTY, 0));

    private GgmlVectorLanes() {
    }

    private static VectorSpecies<Float> species(int bits) {
        VectorSpecies<Float> preferred = FloatVector.SPECIES_PREFERRED;
        if (bits <= 0 || bits >= preferred.vectorBitSize()) {
            return preferred;
        }
        return preferred.withShape(VectorShape.forBitSize(Math.max(128, bits)));
    }
}
