#!/usr/bin/env python3
"""Reference quantization mixes of llama.cpp's llama-quantize (no importance matrix) for LlamaQuantMixTest.

For each small model (the tiny-llama fixture, whose intermediate size 688 forces the fallbacks, and random-weight
Llama/Qwen2/Qwen3/Mixtral-shaped checkpoints made here: > 8 layers so that use_more_bits matters, tied embeddings,
row lengths that are multiples of 32 but not of 256, 8 experts) it runs
  convert_hf_to_gguf.py --outtype bf16   (the vocabulary replaced by a dummy one: llama-quantize never reads it)
  llama-quantize IN.gguf OUT.gguf FTYPE  for FTYPE in Q4_K_M Q5_K_M Q6_K Q8_0 Q4_0 F16 BF16
reads every output back with gguf-py and writes OUT_DIR/<model>.<FTYPE>.tsv:
  # arch=llama n_layer=12 n_head=4 n_head_kv=2 n_expert=0
  name <TAB> ne0,ne1[,ne2] <TAB> type in the bf16 input <TAB> type written by llama-quantize
one line per tensor, in the output file's order.

  PYTHONPATH=/work/llama/src/gguf-py /work/pyenv/bin/python scripts/reference/ggml_mix_refs.py \
      /work/llama/src ../shared/fixtures/tiny-llama/base-bf16 services/core/src/test/resources/ggml/mix
"""
import json
import os
import subprocess
import sys
import tempfile

LLAMA, TINY, OUT = sys.argv[1], sys.argv[2], sys.argv[3]
FTYPES = ["Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0", "Q4_0", "F16", "BF16"]

CONVERT = r'''
import sys
sys.path.insert(0, sys.argv[1])
sys.argv = [sys.argv[1] + "/convert_hf_to_gguf.py"] + sys.argv[2:]
import convert_hf_to_gguf as c

def dummy_vocab(self):
    n = self.hparams["vocab_size"]
    self.gguf_writer.add_tokenizer_model("gpt2")
    self.gguf_writer.add_tokenizer_pre("default")
    self.gguf_writer.add_token_list([f"t{i}" for i in range(n)])
    self.gguf_writer.add_token_types([1] * n)
    self.gguf_writer.add_token_merges([])

original = c.get_model_class

def patched(*args, **kwargs):
    cls = original(*args, **kwargs)
    cls.set_vocab = dummy_vocab
    return cls

c.get_model_class = patched
c.main()
'''


def make(kind, path, **cfg):
    import torch
    import transformers
    torch.manual_seed(len(path))
    config = getattr(transformers, kind + "Config")(vocab_size=1000, max_position_embeddings=256, **cfg)
    model = getattr(transformers, kind + "ForCausalLM")(config).to(torch.bfloat16)
    model.save_pretrained(path, safe_serialization=True)


def main():
    from gguf import GGUFReader
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        models = {"tiny-llama": TINY}
        specs = {
            # 12 layers: use_more_bits picks layers 0, 2, 5, 8, 9, 10, 11 of attn_v and ffn_down
            "llama-12l": ("Llama", dict(hidden_size=256, intermediate_size=512, num_hidden_layers=12,
                                       num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False)),
            # rows of 320 and 864 values: multiples of 32, not of 256 (k-quants fall back to Q5_0/Q5_1/Q8_0)
            "llama-9l-320": ("Llama", dict(hidden_size=320, intermediate_size=864, num_hidden_layers=9,
                                          num_attention_heads=5, num_key_value_heads=5, head_dim=64,
                                          tie_word_embeddings=False)),
            # tied embeddings: token_embd follows the output tensor's rules; attention biases (1-D)
            "qwen2-10l-tied": ("Qwen2", dict(hidden_size=256, intermediate_size=768, num_hidden_layers=10,
                                            num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True)),
            "qwen3-9l": ("Qwen3", dict(hidden_size=256, intermediate_size=512, num_hidden_layers=9,
                                      num_attention_heads=4, num_key_value_heads=2, head_dim=64,
                                      tie_word_embeddings=False)),
            # 8 experts: attn_v and attn_k to Q8_0, attn_output to Q5_K, ffn_down_exps by the layer in its name
            "mixtral-4l-8e": ("Mixtral", dict(hidden_size=256, intermediate_size=256, num_hidden_layers=4,
                                             num_attention_heads=4, num_key_value_heads=2, num_local_experts=8,
                                             num_experts_per_tok=2, tie_word_embeddings=False)),
        }
        for name, (kind, cfg) in specs.items():
            path = os.path.join(work, name)
            make(kind, path, **cfg)
            models[name] = path
        for name, path in models.items():
            cfg = json.load(open(os.path.join(path, "config.json")))
            src = os.path.join(work, name + ".bf16.gguf")
            subprocess.run([sys.executable, "-c", CONVERT, LLAMA, path, "--outtype", "bf16", "--outfile", src],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            reader = GGUFReader(src)
            arch = bytes(reader.fields["general.architecture"].parts[-1]).decode()
            source_types = {t.name: t.tensor_type.name for t in reader.tensors}
            facts = (f"# arch={arch} n_layer={cfg['num_hidden_layers']} n_head={cfg['num_attention_heads']} "
                     f"n_head_kv={cfg.get('num_key_value_heads', cfg['num_attention_heads'])} "
                     f"n_expert={cfg.get('num_local_experts', 0)}\n")
            for ftype in FTYPES:
                dst = os.path.join(work, f"{name}.{ftype}.gguf")
                subprocess.run([os.path.join(LLAMA, "build/bin/llama-quantize"), src, dst, ftype, "1"],
                               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                with open(os.path.join(OUT, f"{name}.{ftype}.tsv"), "w") as f:
                    f.write(facts)
                    for t in GGUFReader(dst).tensors:
                        shape = ",".join(str(int(d)) for d in t.shape)
                        f.write(f"{t.name}\t{shape}\t{source_types[t.name]}\t{t.tensor_type.name}\n")
                os.remove(dst)
            print(name, "done", flush=True)


main()
