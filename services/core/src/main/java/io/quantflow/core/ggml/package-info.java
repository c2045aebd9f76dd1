/**
 * llama.cpp's numbers, as a leaf package (it imports nothing of core): the ggml tensor types ({@link
 * io.quantflow.core.ggml.GgmlType}), the file types ({@link io.quantflow.core.ggml.GgufFileType}), the quantizers
 * ({@link io.quantflow.core.ggml.GgmlQuantizers}: F32, F16, BF16, Q8_0, Q4_0, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K, byte for
 * byte what ggml's reference quantizers write, with a Vector API search for the k-quants beside the scalar port) and
 * {@code llama-quantize}'s choice of type per tensor ({@link io.quantflow.core.ggml.LlamaQuantMix}, including the
 * order it writes tensors in).
 *
 * <p>Held to llama.cpp itself by test resources made with its own code ({@code scripts/reference/ggml_refs.sh}:
 * ggml's quantizers on awkward inputs; {@code scripts/reference/ggml_mix_refs.py}: the types {@code llama-quantize}
 * wrote for converted models). The bytes are those of a default build of llama.cpp (no FMA contraction); see
 * {@code bench/results/ggml-quantize-*.txt} for how many blocks an FMA build changes, and for the speed against ggml.
 *
 * <p>Bad arguments (a length that is not a multiple of the block, a type without a quantizer) throw
 * {@link java.lang.IllegalArgumentException}; callers that take user input check it first and report it with
 * their own error codes.
 */
package io.quantflow.core.ggml;
