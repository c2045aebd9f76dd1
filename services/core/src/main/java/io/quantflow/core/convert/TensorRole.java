package io.quantflow.core.convert;

/** What an output does with one source tensor. */
enum TensorRole {
    /** The stored bytes, as they are. */
    COPY,
    /** The values, written in the output's 16-bit dtype. */
    CONVERT,
    /** The values, quantized to 4 bits. */
    QUANTIZE
}
