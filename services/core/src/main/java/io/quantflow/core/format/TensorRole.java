package io.quantflow.core.format;

/** What an output does with one source tensor. */
public enum TensorRole {
    /** The stored bytes, as they are. */
    COPY,
    /** The values, written in the output's 16-bit dtype. */
    CONVERT,
    /** The values, quantized to 4 bits. */
    QUANTIZE
}
