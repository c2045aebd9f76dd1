package io.quantflow.core.lora;

import io.quantflow.core.safetensors.TensorInfo;

/**
 * The LoRA of one base module, as read from an adapter: where its matrices are and how PEFT combines
 * them. The merged weight is {@code W + scale * B @ A}, where for a Linear layer {@code A} is
 * {@code [rank, in]}, {@code B} is {@code [out, rank]} and {@code W} is {@code [out, in]}.
 * Two layouts transpose the product: {@code fanInFanOut} (GPT-2's Conv1D, whose weight is
 * {@code [in, out]}) and {@code embedding}, where {@code A} is {@code lora_embedding_A}
 * {@code [rank, num_embeddings]}, {@code B} is {@code lora_embedding_B} {@code [dim, rank]} and the
 * base weight is {@code [num_embeddings, dim]}; see {@link #transposed()}. With DoRA the merge also
 * rescales each output row of the merged weight to {@code magnitude / norm(row)}, the norm taken
 * over the input dimension (PEFT: {@code lora_magnitude_vector}, one value per output feature).
 *
 * @param module      the base module name, e.g. {@code model.layers.0.mlp.down_proj}
 * @param a           {@code lora_A.weight} (or {@code lora_embedding_A})
 * @param b           {@code lora_B.weight} (or {@code lora_embedding_B})
 * @param magnitude   DoRA's {@code lora_magnitude_vector} {@code [out]}, null unless DoRA
 * @param bias        {@code lora_B.bias} {@code [out]} with {@code lora_bias}, else null; PEFT merges
 *                    it as {@code base_bias + scale * bias}
 * @param rank        the module's rank ({@code rank_pattern} or {@code r}), equal to A's rows
 * @param alpha       the module's alpha ({@code alpha_pattern} or {@code lora_alpha})
 * @param scale       {@code alpha / rank}, or {@code alpha / sqrt(rank)} with {@code use_rslora}
 * @param fanInFanOut the config's {@code fan_in_fan_out} for Linear modules; always false for
 *                    embeddings, which PEFT creates without it
 * @param dora        whether the module is DoRA (weight-decomposed): then {@code magnitude} is set
 * @param embedding   whether the module is an Embedding LoRA
 */
public record LoraModule(String module, TensorInfo a, TensorInfo b, TensorInfo magnitude, TensorInfo bias, int rank,
                         double alpha, double scale, boolean fanInFanOut, boolean dora, boolean embedding) {

    /** Columns of A: the base layer's input features (num_embeddings for an embedding). */
    public long inFeatures() {
        return a.dim(1);
    }

    /** Rows of B: the base layer's output features (the embedding dimension for an embedding). */
    public long outFeatures() {
        return b.dim(0);
    }

    /** Whether the delta is {@code (B @ A)^T}: with {@code fan_in_fan_out} and for embeddings. */
    public boolean transposed() {
        return fanInFanOut || embedding;
    }

    /** The base tensor the delta is added to: {@code <module>.weight}. */
    public String baseWeightName() {
        return module + ".weight";
    }

    /** The base tensor {@link #bias} is added to: {@code <module>.bias}. */
    public String baseBiasName() {
        return module + ".bias";
    }

    /** The shape the base weight must have: {@code [out, in]}, or {@code [in, out]} when {@link #transposed()}. */
    public long[] baseWeightShape() {
        return transposed() ? new long[] {inFeatures(), outFeatures()} : new long[] {outFeatures(), inFeatures()};
    }
}
