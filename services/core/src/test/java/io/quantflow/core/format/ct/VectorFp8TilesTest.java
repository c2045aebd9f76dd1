package io.quantflow.core.format.ct;

import io.quantflow.core.quant.DtypeEncoding;
import io.quantflow.core.quant.ErrorSums;
import io.quantflow.core.quant.VectorizationProvider;
import io.quantflow.core.safetensors.DType;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The Vector API FP8 path against the scalar reference on random weights of awkward sizes: same bytes, same scales. */
class VectorFp8TilesTest {
    private static final int[] SIZES = {1, 3, 13, 128, 129, 207, 702};

    @Test
    void sameBytesAsTheReference() {
        Assumptions.assumeTrue(VectorizationProvider.get().vector(), "vector code off: " + VectorizationProvider.get().reason());
        Random rnd = new Random(15);
        for (DType dtype : new DType[] {DType.BF16, DType.F32, DType.F16}) {
            for (int rows : new int[] {1, 5, 130}) {
                for (int cols : SIZES) {
                    float[] x = new float[rows * cols];
                    for (int i = 0; i < x.length; i++) {
                        double scale = switch (rnd.nextInt(5)) {
                            case 0 -> 1e-4;
                            case 1 -> 1e3;
                            case 2 -> 0;
                            default -> 1;
                        };
                        x[i] = DtypeEncoding.round(dtype, (float) (rnd.nextGaussian() * scale));
                        if (rnd.nextInt(50) == 0) {
                            x[i] = -0f;
                        }
                    }
                    for (int[] tile : new int[][] {{1, cols}, {128, 128}}) {
                        int tilesPerRow = (cols + tile[1] - 1) / tile[1];
                        int tiles = ((rows + tile[0] - 1) / tile[0]) * tilesPerRow;
                        byte[] q1 = new byte[x.length];
                        byte[] q2 = new byte[x.length];
                        float[] a1 = new float[tiles];
                        float[] a2 = new float[tiles];
                        float[] s1 = new float[tiles];
                        float[] s2 = new float[tiles];
                        ErrorSums e1 = new ErrorSums();
                        ErrorSums e2 = new ErrorSums();
                        Fp8Tiles.quantize(x, rows, cols, tile[0], tile[1], dtype, q1, a1, s1, e1);
                        VectorFp8Tiles.quantize(x, rows, cols, tile[0], tile[1], dtype, q2, a2, s2, e2);
                        String what = dtype + " " + rows + "x" + cols + " tiles " + tile[0] + "x" + tile[1];
                        assertArrayEquals(q1, q2, what);
                        assertArrayEquals(a1, a2, what);
                        assertArrayEquals(s1, s2, what);
                        assertEquals(e1.values(), e2.values(), what);
                        assertEquals(e1.squaredError(), e2.squaredError(), 1e-5 * e1.squaredError() + 1e-30, what);
                        assertEquals(e1.squaredValue(), e2.squaredValue(), 1e-5 * e1.squaredValue(), what);
                        assertEquals(e1.maxAbsError(), e2.maxAbsError(), what);
                    }
                }
            }
        }
    }
}
