#!/usr/bin/env python3
"""Writes a synthetic F16 GGUF with Llama-2-7B's tensor names and shapes (about 13.5 GB),
streaming one tensor at a time (memory stays small), for quantization benchmarks.

    python3 bench/make_synthetic_llama.py OUT.gguf [--layers 32]

Weights are Gaussian (std 0.02, each tensor a different slice and scale of one random pool);
norms are ones. llama-quantize and `quant quantize` accept it as an ordinary Llama model."""
import argparse
import numpy as np
from gguf import GGUFWriter, GGMLQuantizationType

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--layers", type=int, default=32)
a = p.parse_args()
E, F, V, H = 4096, 11008, 32000, 32
rng = np.random.default_rng(7)
pool = (rng.standard_normal(1 << 24, dtype=np.float32) * 0.02)

tensors = [("token_embd.weight", (V, E))]
for i in range(a.layers):
    b = f"blk.{i}."
    tensors += [(b + "attn_norm.weight", (E,)), (b + "attn_q.weight", (E, E)), (b + "attn_k.weight", (E, E)),
                (b + "attn_v.weight", (E, E)), (b + "attn_output.weight", (E, E)), (b + "ffn_norm.weight", (E,)),
                (b + "ffn_gate.weight", (F, E)), (b + "ffn_up.weight", (F, E)), (b + "ffn_down.weight", (E, F))]
tensors += [("output_norm.weight", (E,)), ("output.weight", (V, E))]

w = GGUFWriter(a.out, "llama")
w.add_name("synthetic-llama-2-7b")
w.add_context_length(4096); w.add_embedding_length(E); w.add_block_count(a.layers)
w.add_feed_forward_length(F); w.add_head_count(H); w.add_head_count_kv(H)
w.add_rope_dimension_count(128); w.add_layer_norm_rms_eps(1e-5); w.add_file_type(1)
w.add_vocab_size(V)
for name, shape in tensors:
    dt = np.float32 if len(shape) == 1 else np.float16
    nbytes = int(np.prod(shape)) * np.dtype(dt).itemsize
    w.add_tensor_info(name, shape, np.dtype(dt), nbytes,
                      raw_dtype=GGMLQuantizationType.F32 if dt == np.float32 else GGMLQuantizationType.F16)
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_ti_data_to_file()
for k, (name, shape) in enumerate(tensors):
    n = int(np.prod(shape))
    if len(shape) == 1:
        data = np.ones(n, dtype=np.float32)
    else:
        reps = -(-n // pool.size)
        start = (k * 7919) % pool.size
        data = (np.roll(np.tile(pool, reps)[:n] if reps > 1 else pool[:n], start) * (1 + 0.01 * (k % 13))).astype(np.float16)
    w.write_tensor_data(data.reshape(shape))
w.close()
