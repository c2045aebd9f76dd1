package io.quantflow.core.gpu;

/**
 * A block-aligned piece of one tensor of a pass: elements {@code [first, first + length)} of the
 * tensor at position {@code tensor} of the pass's order. Only a tensor's last chunk may end inside
 * a block or hold an odd count.
 */
public record Chunk(int tensor, long first, int length) {

    public Chunk {
        if (tensor < 0 || first < 0 || length <= 0) {
            throw new IllegalArgumentException("bad chunk " + tensor + " " + first + " " + length);
        }
    }

    /** Where its packed codes begin, in bytes from the tensor's first packed byte. */
    public long packedOffset() {
        return first / 2;
    }

    public int packedBytes() {
        return (length + 1) / 2;
    }

    public int firstBlock(int blocksize) {
        return Math.toIntExact(first / blocksize);
    }

    public int blocks(int blocksize) {
        return (length + blocksize - 1) / blocksize;
    }
}
