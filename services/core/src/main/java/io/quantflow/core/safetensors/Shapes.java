package io.quantflow.core.safetensors;

/** Arithmetic on tensor shapes. */
public final class Shapes {
    private Shapes() {
    }

    /**
     * The number of elements of a shape: the product of its dimensions (1 for a scalar).
     *
     * @throws ArithmeticException when the product overflows a long
     */
    public static long elements(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }
}
