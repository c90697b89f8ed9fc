#!/usr/bin/env python3
"""Writes a tiny Mixtral-style mixture-of-experts GGUF (architecture `llama` with
`llama.expert_count`), F32, with seeded random weights and SmolLM2's tokenizer, so llama.cpp and
QuantKit can both run it: the per-expert importance-matrix tests use it.

    scripts/make_tiny_moe.py TOKENIZER.gguf OUT.gguf

TOKENIZER.gguf: any GGUF with a gpt2 tokenizer (the tests use SmolLM2-135M-Instruct.Q4_1.gguf).
The weights depend only on the seed, so the file is the same on every machine."""
import sys

import gguf
import numpy as np

E, F, LAYERS, HEADS, KV_HEADS, EXPERTS, USED = 256, 512, 2, 4, 2, 4, 2
HEAD = E // HEADS


def main(tok_path: str, out: str) -> None:
    r = gguf.GGUFReader(tok_path)
    field = lambda k: r.fields[k].contents()
    tokens = field("tokenizer.ggml.tokens")
    rng = np.random.default_rng(20261123)
    w = gguf.GGUFWriter(out, "llama")
    w.add_name("tiny-moe")
    w.add_block_count(LAYERS)
    w.add_context_length(2048)
    w.add_embedding_length(E)
    w.add_feed_forward_length(F)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_rope_dimension_count(HEAD)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_expert_count(EXPERTS)
    w.add_expert_used_count(USED)
    w.add_vocab_size(len(tokens))
    w.add_file_type(0)
    w.add_tokenizer_model(field("tokenizer.ggml.model"))
    w.add_tokenizer_pre(field("tokenizer.ggml.pre"))
    w.add_token_list(tokens)
    w.add_token_types(field("tokenizer.ggml.token_type"))
    w.add_token_merges(field("tokenizer.ggml.merges"))
    w.add_bos_token_id(field("tokenizer.ggml.bos_token_id"))
    w.add_eos_token_id(field("tokenizer.ggml.eos_token_id"))
    w.add_add_bos_token(False)

    def t(name, *shape, scale=0.08):  # numpy shape, i.e. ggml's reversed
        w.add_tensor(name, (rng.standard_normal(shape) * scale).astype(np.float32))

    t("token_embd.weight", len(tokens), E, scale=0.05)  # also the (tied) output head
    for i in range(LAYERS):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", (1 + 0.1 * rng.standard_normal(E)).astype(np.float32))
        t(p + "attn_q.weight", E, E)
        t(p + "attn_k.weight", KV_HEADS * HEAD, E)
        t(p + "attn_v.weight", KV_HEADS * HEAD, E)
        t(p + "attn_output.weight", E, E)
        w.add_tensor(p + "ffn_norm.weight", (1 + 0.1 * rng.standard_normal(E)).astype(np.float32))
        t(p + "ffn_gate_inp.weight", EXPERTS, E, scale=0.3)
        t(p + "ffn_gate_exps.weight", EXPERTS, F, E)
        t(p + "ffn_up_exps.weight", EXPERTS, F, E)
        t(p + "ffn_down_exps.weight", EXPERTS, E, F)
    w.add_tensor("output_norm.weight", np.ones(E, np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
