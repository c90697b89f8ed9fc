#!/usr/bin/env python3
"""Experiment: reorder each layer's FFN channels so the inputs of ffn_down with the largest values
share 256-value blocks (llama.cpp rounds a k-quant matmul's inputs to 8 bits with one scale per 256).

    python3 bench/ffn_reorder_experiment.py MODEL-F32.gguf IMATRIX.gguf UNIT OUT.gguf OUT-IMATRIX.gguf [LAYERS]

The permutation is the same network: ffn_gate's and ffn_up's rows and ffn_down's columns move
together (F32 model only). Channels move in groups of UNIT (32 keeps k-quant sub-blocks together),
ordered by the group's largest mean square input in the importance matrix (llama-imatrix's
`in_sum2`, made on calibration text), so the groups holding outliers fill the first blocks. The
imatrix is permuted alike. LAYERS: comma-separated layer numbers (default all). Results in
bench/README ("Gemma-3 at the Q4_K_M size, session 11").
"""
import re
import shutil
import sys

import numpy as np
from gguf import GGUFReader


def main(argv):
    if len(argv) < 6:
        sys.exit(__doc__)
    src, imatrix, unit, out, out_imatrix = argv[1], argv[2], int(argv[3]), argv[4], argv[5]
    shutil.copy(src, out)
    shutil.copy(imatrix, out_imatrix)
    model = {t.name: t for t in GGUFReader(out, "r+").tensors}
    stats = {t.name: t for t in GGUFReader(out_imatrix, "r+").tensors}
    layers = sorted({int(m.group(1)) for n in model for m in [re.match(r"blk\.(\d+)\.ffn_down", n)] if m})
    if len(argv) > 6:
        layers = [int(x) for x in argv[6].split(",")]
    for layer in layers:
        sums = stats[f"blk.{layer}.ffn_down.weight.in_sum2"].data
        values = np.array(sums).ravel()
        order = np.argsort(-values.reshape(-1, unit).max(axis=1), kind="stable")
        perm = (order[:, None] * unit + np.arange(unit)[None, :]).ravel()
        sums[...] = values[perm].reshape(sums.shape)
        for name in ("ffn_gate", "ffn_up"):
            rows = model[f"blk.{layer}.{name}.weight"].data  # (n_ff, n_embd)
            rows[...] = np.array(rows)[perm, :]
        down = model[f"blk.{layer}.ffn_down.weight"].data  # (n_embd, n_ff)
        down[...] = np.array(down)[:, perm]
    print(f"{out}: FFN channels of {len(layers)} layers reordered in groups of {unit}")


if __name__ == "__main__":
    main(sys.argv)
