#!/usr/bin/env python3
"""How far each quantized GGUF is from its reference, per tensor class, read with gguf-py.

    python3 bench/weight_error.py REFERENCE.gguf QUANTIZED.gguf [QUANTIZED.gguf …]

For every quantized matrix: relative squared error ‖Ŵ − W‖² / ‖W‖², where Ŵ is the matrix as
gguf-py dequantizes it and W the reference's (any type gguf-py reads), summed per tensor class
(`attn_q`, `ffn_down`, `token_embd.weight`…) and type. A class at ~0 holds the reference's own
values: used in bench/README to show that llama-quantize's Q4_K_M of Gemma-3 (whose F32 reference is
the published Q4_K_M, dequantized) reproduces the reference. Independent of QuantKit's reader.
"""
import collections
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize


def matrices(path):
    return {t.name: t for t in GGUFReader(path).tensors}


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    ref = matrices(argv[1])
    for path in argv[2:]:
        classes = collections.defaultdict(lambda: [0.0, 0.0])
        for name, t in matrices(path).items():
            if t.tensor_type.name in ("F32", "F16", "BF16") or len(t.shape) < 2:
                continue
            if name not in ref:
                sys.exit(f"{path}: tensor {name} is not in {argv[1]}")
            r = ref[name]
            w = dequantize(r.data, r.tensor_type).astype(np.float64).ravel()
            q = dequantize(t.data, t.tensor_type).astype(np.float64).ravel()
            if w.size != q.size:
                sys.exit(f"{path}: tensor {name} has {q.size} values, the reference {w.size}")
            key = (name.split(".")[-2] if name.startswith("blk.") else name, t.tensor_type.name)
            classes[key][0] += float(np.sum((q - w) ** 2))
            classes[key][1] += float(np.sum(w ** 2))
        print(path)
        for (cls, typ), (err, norm) in sorted(classes.items()):
            print(f"  {cls:<20} {typ:<8} {err / norm:.2e}")


if __name__ == "__main__":
    main(sys.argv)
