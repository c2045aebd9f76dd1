package io.quantflow.core.ggml;

/**
 * The Vector API path of the k-quants' scale searches: the same bytes as {@link ScalarGgmlQuantizer}.
 */
final class VectorGgmlQuantizer extends ScalarGgmlQuantizer {
}
