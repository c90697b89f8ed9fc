#!/usr/bin/env python3
"""Loads `quant export` checkpoints in transformers (CPU, float32) and measures them.

    export_transformers.py --source HF_DIR --rtn DIR [--awq DIR] [--gptq DIR] --text FILE [--chunks N]

- logits of the compressed-tensors RTN export (transformers + compressed-tensors) against the
  source model with its linears replaced by the export's weights decoded by our independent
  numpy decoder (Tests/ExportTests/decode_export.py): must be identical;
- perplexity on --text (chunks of 512 tokens, every next-token prediction) of the unquantized
  model, the RTN export, an independent torch RTN (absmax/7.5, round half to even, clamp to
  [-8, 7]) and the AWQ / GPTQ exports, with the share of RTN's gap each method closes.
Prints one JSON object.
"""
import argparse, json, math, sys
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "Tests" / "ExportTests"))
import decode_export  # noqa: E402

torch.set_grad_enabled(False)


def load(d):
    return AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32).eval()


def chunks_of(tok, text, n, ctx=512):
    ids = tok(Path(text).read_text(), return_tensors="pt").input_ids[0]
    k = min(n, ids.numel() // ctx)
    return [ids[i * ctx:(i + 1) * ctx].unsqueeze(0) for i in range(k)]


def perplexity(model, chunks):
    nll, count = 0.0, 0
    for c in chunks:
        logits = model(c).logits[0, :-1].double()
        nll += torch.nn.functional.cross_entropy(logits, c[0, 1:], reduction="sum").item()
        count += c.numel() - 1
    return math.exp(nll / count)


def linear_names(model):
    return [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and n.startswith("model.layers.")]


def with_weights(source, weights):
    m = load(source)
    mods = dict(m.named_modules())
    for name, w in weights.items():
        mods[name].weight.data = torch.from_numpy(np.ascontiguousarray(w)).to(torch.float32)
    return m


def independent_rtn(w, group):
    out_f, in_f = w.shape
    g = w.reshape(out_f, in_f // group, group)
    scale = g.abs().amax(dim=2, keepdim=True) / 7.5
    scale = torch.where(scale == 0, torch.finfo(torch.float32).eps, scale)
    q = torch.clamp(torch.round(g / scale), -8, 7)
    return (q * scale).reshape(out_f, in_f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True)
    ap.add_argument("--rtn", required=True)
    ap.add_argument("--awq")
    ap.add_argument("--gptq")
    ap.add_argument("--text", required=True)
    ap.add_argument("--chunks", type=int, default=16)
    a = ap.parse_args()
    tok = AutoTokenizer.from_pretrained(a.source)
    chunks = chunks_of(tok, a.text, a.chunks)
    res = {"text": a.text, "tokens": sum(c.numel() for c in chunks), "chunks": len(chunks)}

    base = load(a.source)
    res["ppl_unquantized"] = perplexity(base, chunks)
    names = linear_names(base)
    del base

    rtn = load(a.rtn)
    res["rtn_module_class"] = type(dict(rtn.named_modules())[names[0]]).__name__
    rtn_logits = rtn(chunks[0]).logits
    res["ppl_rtn"] = perplexity(rtn, chunks)
    del rtn

    # The export's weights decoded independently, in an ordinary float32 model.
    cfg = json.loads((Path(a.rtn) / "config.json").read_text())["quantization_config"]
    group = cfg["config_groups"]["group_0"]["weights"]["group_size"]
    t = decode_export.read_checkpoint(a.rtn)
    src = decode_export.read_checkpoint(a.source)
    decoded = {n: decode_export.decode("compressed-tensors", t, n, *src[n + ".weight"].shape, group, cfg) for n in names}
    deq = with_weights(a.source, decoded)
    deq_logits = deq(chunks[0]).logits
    res["logits_identical"] = bool(torch.equal(rtn_logits, deq_logits))
    res["logits_max_abs_diff"] = float((rtn_logits - deq_logits).abs().max())
    del deq

    ind = with_weights(a.source, {n: independent_rtn(torch.from_numpy(src[n + ".weight"].astype(np.float32)), group).numpy()
                                  for n in names})
    res["ppl_independent_rtn"] = perplexity(ind, chunks)
    res["rtn_vs_independent_rel"] = abs(res["ppl_rtn"] / res["ppl_independent_rtn"] - 1)
    del ind

    gap = res["ppl_rtn"] - res["ppl_unquantized"]
    for key, d in (("awq", a.awq), ("gptq", a.gptq)):
        if d:
            m = load(d)
            p = perplexity(m, chunks)
            res["ppl_" + key] = p
            res[key + "_gap_closed"] = (res["ppl_rtn"] - p) / gap if gap > 0 else None
            del m
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
