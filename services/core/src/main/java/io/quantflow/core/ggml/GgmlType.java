package io.quantflow.core.ggml;

/**
 * The ggml tensor types a GGUF file may hold, with llama.cpp's type ids (the {@code ggml_type} enum, as written in a
 * GGUF tensor-info record), the number of values in one block and the bytes one block takes.
 */
public enum GgmlType {
    F32(0, 1, 4),
    F16(1, 1, 2),
    Q4_0(2, 32, 18),
    Q4_1(3, 32, 20),
    Q5_0(6, 32, 22),
    Q5_1(7, 32, 24),
    Q8_0(8, 32, 34),
    Q8_1(9, 32, 36),
    Q2_K(10, 256, 84),
    Q3_K(11, 256, 110),
    Q4_K(12, 256, 144),
    Q5_K(13, 256, 176),
    Q6_K(14, 256, 210),
    Q8_K(15, 256, 292),
    BF16(30, 1, 2);

    /** Values per super-block of the k-quants. */
    public static final int QK_K = 256;

    private final int id;
    private final int blockSize;
    private final int typeSize;

    GgmlType(int id, int blockSize, int typeSize) {
        this.id = id;
        this.blockSize = blockSize;
        this.typeSize = typeSize;
    }

    /** The id written in a GGUF tensor-info record. */
    public int id() {
        return id;
    }

    /** Values in one block. */
    public int blockSize() {
        return blockSize;
    }

    /** Bytes one block takes. */
    public int typeSize() {
        return typeSize;
    }

    /** Bytes a row of {@code n} values takes; {@code n} must be a multiple of the block size. */
    public long rowBytes(long n) {
        if (n % blockSize != 0) {
            throw new IllegalArgumentException(this + " needs rows of a multiple of " + blockSize + " values, not " + n);
        }
        return n / blockSize * typeSize;
    }

    /** The type of a GGUF id. */
    public static GgmlType ofId(int id) {
        for (GgmlType t : values()) {
            if (t.id == id) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown ggml type id " + id);
    }
}
