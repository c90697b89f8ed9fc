#!/usr/bin/env python3
"""Collects llama.cpp's imatrix reference figures into one JSON (see make-imatrix-fixtures.sh)."""
import hashlib, json, os, re, sys
from gguf import GGUFReader

work, out = sys.argv[1], sys.argv[2]

def sha(path, offset=0):
    with open(path, 'rb') as f:
        f.seek(offset)
        return hashlib.sha256(f.read()).hexdigest()

def field(r, key):
    f = r.fields.get(key)
    if f is None:
        return None
    v = f.parts[f.data[0]]
    return bytes(v).decode() if f.types[0].name == 'STRING' else int(v[0])

ref = {"conversions": {"dat": sha(f"{work}/conv.dat"), "merge_gguf": sha(f"{work}/conv-merge.gguf"),
                       "merge_dat": sha(f"{work}/conv-merge.dat"), "merge_dat_gguf": sha(f"{work}/conv-merge-dat.gguf")},
       "perplexity": {}, "quantize": {}}
for m in ("smollm2", "qwen25"):
    for t in ("F32", "Q8_0"):
        log = open(f"{work}/{m}-{t}.imatrix.log").read()
        ref["perplexity"][f"{m}-{t}"] = float(re.search(r"Final estimate: PPL = ([0-9.]+)", log).group(1))
    for t in ("IQ4_XS", "IQ3_XXS", "IQ2_XS", "Q2_K_S"):
        p = f"{work}/{m}-{t}.gguf"
        if not os.path.exists(p):
            continue
        r = GGUFReader(p)
        ref["quantize"][f"{m}-{t}"] = {
            "data_sha256": sha(p, r.data_offset),
            "size": len(open(p, 'rb').read()),
            "entries_count": field(r, "quantize.imatrix.entries_count"),
            "chunks_count": field(r, "quantize.imatrix.chunks_count"),
            "dataset": field(r, "quantize.imatrix.dataset"),
        }
json.dump(ref, open(out, "w"), indent=1, sort_keys=True)
print(json.dumps(ref, indent=1))
