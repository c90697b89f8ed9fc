#!/usr/bin/env python3
"""Loads `quant export` GPTQ and AWQ checkpoints in transformers through gptqmodel (the loader
transformers uses for both layouts) on CPU, and compares the logits with the same model whose
linear weights are decoded by the independent numpy decoder (Tests/ExportTests/decode_export.py).

    gptqmodel_load.py --source HF_DIR --text FILE [--tokens 64] EXPORT_DIR...

gptqmodel's CPU kernels dequantize into F16, so the reference is computed twice: with the decoded
weights as F32 and rounded to F16. Prints one JSON object per export.
"""
import argparse, collections, json, sys, time
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "Tests" / "ExportTests"))
import decode_export  # noqa: E402


def reference(source, export, fmt, group, qc, round16):
    model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32, device_map="cpu")
    t = decode_export.read_checkpoint(export)
    sd = model.state_dict()
    packed = (".qweight", ".qzeros", ".scales", ".g_idx")
    with torch.no_grad():
        # Tensors stored unquantized come from the export (AWQ folds its scales into the norms).
        for k, v in t.items():
            if not k.endswith(packed) and k in sd:
                sd[k].copy_(torch.from_numpy(np.asarray(v, dtype=np.float32)))
        for prefix in [k[: -len(".qweight")] for k in t if k.endswith(".qweight")]:
            out_f, in_f = sd[prefix + ".weight"].shape
            w = decode_export.decode(fmt, t, prefix, out_f, in_f, group, qc)
            if round16:
                w = w.astype(np.float16).astype(np.float32)
            sd[prefix + ".weight"].copy_(torch.from_numpy(w))
    return model


def compare(a, b):
    d = (a - b).abs()
    return {"max_abs_diff": float(d.max()), "mean_abs_diff": float(d.mean()),
            "top1_agreement": float((a.argmax(-1) == b.argmax(-1)).float().mean())}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True)
    ap.add_argument("--text", required=True)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("exports", nargs="+")
    a = ap.parse_args()
    torch.set_num_threads(1)
    for export in a.exports:
        qc = json.loads((Path(export) / "config.json").read_text())["quantization_config"]
        fmt = "awq" if qc.get("quant_method") == "awq" else "gptq"
        group = qc.get("group_size") or qc.get("q_group_size")
        tok = AutoTokenizer.from_pretrained(export)
        ids = tok(Path(a.text).read_text(), return_tensors="pt").input_ids[:, : a.tokens]
        t0 = time.time()
        m = AutoModelForCausalLM.from_pretrained(export, dtype=torch.float32, device_map="cpu")
        load_s = time.time() - t0
        kinds = collections.Counter(type(x).__name__ for x in m.modules() if hasattr(x, "qweight"))
        with torch.no_grad():
            t0 = time.time()
            got = m(ids).logits[0].float()
            forward_s = time.time() - t0
            ref32 = reference(a.source, export, fmt, group, qc, False)(ids).logits[0]
            ref16 = reference(a.source, export, fmt, group, qc, True)(ids).logits[0]
        print(json.dumps({"export": export, "format": fmt, "quantized_linears": dict(kinds), "load_s": round(load_s, 2),
                          "forward_s": round(forward_s, 2), "tokens": int(ids.shape[1]),
                          "vs_decoded_f32": compare(got, ref32), "vs_decoded_f16": compare(got, ref16)}, indent=2))


if __name__ == "__main__":
    main()
