package io.quantflow.core.merge;

/**
 * A low-rank update of a weight, normalised for streaming by rows of the weight as stored:
 * {@code delta[row][col] = scale * sum_k left[row][k] * right[k][col]}.
 *
 * <ul>
 *   <li>linear layer, weight [out, in]: left = B [out, r], right = A [r, in];</li>
 *   <li>fan_in_fan_out (Conv1D), weight [in, out]: left = A^T [in, r], right = B^T [r, out];</li>
 *   <li>embedding, weight [num_embeddings, dim]: PEFT's delta is (B @ A)^T: left = A^T, right = B^T.</li>
 * </ul>
 * The sum runs over k in increasing order with a fused multiply-add per term in float32, so every
 * implementation gives the same bits; then the sum is multiplied by {@code scale} (float32) and added
 * to the weight, as PEFT does ({@code W += (B @ A) * scaling}).
 */
public record LoraDelta(int rows, int cols, int rank, float[] left, float[] right, float scale) {

    public LoraDelta {
        if (left.length != (long) rows * rank || right.length != (long) rank * cols) {
            throw new IllegalArgumentException("factor sizes do not match " + rows + "x" + rank + "x" + cols);
        }
    }

    /** A linear layer's update: A is [r, in], B is [out, r], both row-major. */
    public static LoraDelta linear(float[] a, float[] b, int rank, int in, int out, float scale, boolean fanInFanOut) {
        if (!fanInFanOut) {
            return new LoraDelta(out, in, rank, b, a, scale);
        }
        return new LoraDelta(in, out, rank, transpose(a, rank, in), transpose(b, out, rank), scale);
    }

    /** An embedding's update: A is [r, num_embeddings], B is [dim, r]. */
    public static LoraDelta embedding(float[] a, float[] b, int rank, int numEmbeddings, int dim, float scale) {
        return new LoraDelta(numEmbeddings, dim, rank, transpose(a, rank, numEmbeddings), transpose(b, dim, rank), scale);
    }

    static float[] transpose(float[] m, int rows, int cols) {
        float[] t = new float[m.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t[c * rows + r] = m[r * cols + c];
            }
        }
        return t;
    }

    /** The update of one element, by the definition above: the reference the fast paths are held to. */
    public float at(int row, int col) {
        float acc = 0f;
        for (int k = 0; k < rank; k++) {
            acc = Math.fma(left[row * rank + k], right[k * cols + col], acc);
        }
        return acc * scale;
    }
}
