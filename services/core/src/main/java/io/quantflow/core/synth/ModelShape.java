package io.quantflow.core.synth;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.quantflow.core.safetensors.DType;
import io.quantflow.core.safetensors.TensorSpec;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * The tensor shapes of a Llama-architecture model, named after the checkpoints people convert:
 * what {@code quantflow synth} writes and what the demo projects sizes for.
 */
public record ModelShape(String name, int hidden, int intermediate, int layers, int heads, int kvHeads, int vocab,
                         boolean tiedEmbeddings) {

    public static final List<ModelShape> KNOWN = List.of(
            new ModelShape("tiny-llama", 256, 688, 2, 4, 2, 1000, false),
            new ModelShape("llama-160m", 768, 2048, 12, 12, 4, 32000, false),
            // llama-160m's layers with a byte-level vocabulary: embeddings are 0.5% of the parameters,
            // as in a 70B model, so a 4-bit output is near 4.2 bits/param as large models are
            new ModelShape("byte-llama", 768, 2048, 12, 12, 4, 256, false),
            new ModelShape("llama-1b", 2048, 8192, 16, 32, 8, 128256, true),
            new ModelShape("llama-8b", 4096, 14336, 32, 32, 8, 128256, false),
            new ModelShape("llama-70b", 8192, 28672, 80, 64, 8, 128256, false));

    public static ModelShape named(String name) {
        return KNOWN.stream().filter(s -> s.name.equals(name.toLowerCase(Locale.ROOT))).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("unknown shape '" + name + "' (one of "
                        + String.join(", ", KNOWN.stream().map(ModelShape::name).toList()) + ")"));
    }

    public int headDim() {
        return hidden / heads;
    }

    /** Every tensor, in the names transformers uses for LlamaForCausalLM. */
    public List<TensorSpec> tensors(DType dtype) {
        List<TensorSpec> t = new ArrayList<>();
        t.add(new TensorSpec("model.embed_tokens.weight", dtype, new long[] {vocab, hidden}));
        int kv = kvHeads * headDim();
        for (int i = 0; i < layers; i++) {
            String p = "model.layers." + i + ".";
            t.add(new TensorSpec(p + "input_layernorm.weight", dtype, new long[] {hidden}));
            t.add(new TensorSpec(p + "self_attn.q_proj.weight", dtype, new long[] {hidden, hidden}));
            t.add(new TensorSpec(p + "self_attn.k_proj.weight", dtype, new long[] {kv, hidden}));
            t.add(new TensorSpec(p + "self_attn.v_proj.weight", dtype, new long[] {kv, hidden}));
            t.add(new TensorSpec(p + "self_attn.o_proj.weight", dtype, new long[] {hidden, hidden}));
            t.add(new TensorSpec(p + "post_attention_layernorm.weight", dtype, new long[] {hidden}));
            t.add(new TensorSpec(p + "mlp.gate_proj.weight", dtype, new long[] {intermediate, hidden}));
            t.add(new TensorSpec(p + "mlp.up_proj.weight", dtype, new long[] {intermediate, hidden}));
            t.add(new TensorSpec(p + "mlp.down_proj.weight", dtype, new long[] {hidden, intermediate}));
        }
        t.add(new TensorSpec("model.norm.weight", dtype, new long[] {hidden}));
        if (!tiedEmbeddings) {
            t.add(new TensorSpec("lm_head.weight", dtype, new long[] {vocab, hidden}));
        }
        return t;
    }

    /**
     * The weights {@code quantflow synth --plant-outliers N} gives outlier columns: the attention output
     * projection ({@code self_attn.o_proj}) of {@code n} layers spread evenly over the depth.
     */
    public List<String> outlierTensors(int n) {
        if (n < 0 || n > layers) {
            throw new IllegalArgumentException("--plant-outliers must be from 0 to the number of layers (" + layers + "), not " + n);
        }
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int layer = (int) ((i + 0.5) * layers / n);
            out.add("model.layers." + layer + ".self_attn.o_proj.weight");
        }
        return out;
    }

    public long parameters() {
        return tensors(DType.BF16).stream().mapToLong(TensorSpec::elements).sum();
    }

    /** config.json as transformers writes it for this architecture. */
    public ObjectNode config(DType dtype) {
        ObjectNode c = JsonNodeFactory.instance.objectNode();
        c.putArray("architectures").add("LlamaForCausalLM");
        c.put("attention_bias", false);
        c.put("attention_dropout", 0.0);
        c.put("bos_token_id", 1);
        c.put("dtype", dtype.torchName());
        c.put("eos_token_id", 2);
        c.put("head_dim", headDim());
        c.put("hidden_act", "silu");
        c.put("hidden_size", hidden);
        c.put("initializer_range", 0.02);
        c.put("intermediate_size", intermediate);
        c.put("max_position_embeddings", 4096);
        c.put("mlp_bias", false);
        c.put("model_type", "llama");
        c.put("num_attention_heads", heads);
        c.put("num_hidden_layers", layers);
        c.put("num_key_value_heads", kvHeads);
        c.putNull("pad_token_id");
        c.put("pretraining_tp", 1);
        c.put("rms_norm_eps", 1e-05);
        ObjectNode rope = c.putObject("rope_parameters");
        rope.put("rope_theta", 500000.0);
        rope.put("rope_type", "default");
        c.put("tie_word_embeddings", tiedEmbeddings);
        c.put("use_cache", true);
        c.put("vocab_size", vocab);
        return c;
    }

    @Override
    public String toString() {
        return name + Arrays.toString(new int[] {hidden, intermediate, layers});
    }
}
