#!/usr/bin/env python3
"""Table and KLD-vs-size plots for bench/target-size.sh.

    python3 bench/target_size_report.py RESULTS.tsv [--out DIR]

RESULTS.tsv columns: model, maker (llama | llama-imatrix | quant), name (the mix, or for quant the
llama mix whose file size was the target), bytes, kld, ppl, seconds. Prints a Markdown table (per
model and target: llama's mix without and with imatrix, ours, the ratio to each, and the best
llama mix of any type at or under the target size) and writes DIR/target-size-MODEL.png.
"""
import argparse, csv, os, sys
from collections import defaultdict

ap = argparse.ArgumentParser()
ap.add_argument("results")
ap.add_argument("--out", default=".")
a = ap.parse_args()
rows = list(csv.DictReader(open(a.results), delimiter="\t"))
for r in rows:
    r["bytes"] = int(r["bytes"]); r["kld"] = float(r["kld"])
by = defaultdict(dict)
for r in rows:
    by[(r["model"], r["maker"])][r["name"]] = r

models = sorted({r["model"] for r in rows}, key=lambda m: ["smollm2", "gemma3", "qwen25"].index(m) if m in ["smollm2", "gemma3", "qwen25"] else 9)
print("| model | target (llama mix) | target bytes | llama KLD (no imatrix) | llama KLD (imatrix) | ours bytes | ours KLD | ours / llama | ours / llama+imatrix | best llama ≤ size (KLD) |")
print("|---|---|---|---|---|---|---|---|---|---|")
for m in models:
    ours = by[(m, "quant")]
    for t, q in ours.items():
        l = by[(m, "llama")].get(t); li = by[(m, "llama-imatrix")].get(t)
        target = min(r["bytes"] for r in (l, li) if r)
        pool = [r for k in ("llama", "llama-imatrix") for r in by[(m, k)].values() if r["bytes"] <= target]
        best = min(pool, key=lambda r: r["kld"])
        tag = "imatrix " if best["maker"] == "llama-imatrix" else ""
        print(f"| {m} | {t} | {target} | {l['kld']:.5f} | {li['kld']:.5f} | {q['bytes']} | {q['kld']:.5f} | "
              f"{q['kld'] / l['kld']:.2f} | {q['kld'] / li['kld']:.2f} | {tag}{best['name']} ({best['kld']:.5f}) |")

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit("matplotlib is missing (pip install matplotlib): no plots")
os.makedirs(a.out, exist_ok=True)
for m in models:
    fig, ax = plt.subplots(figsize=(8, 5.5))
    for maker, style, label in (("llama", "o", "llama.cpp mixes (no imatrix)"),
                                ("llama-imatrix", "s", "llama.cpp mixes (imatrix)"),
                                ("quant", "*", "quant --target-size (imatrix)")):
        pts = sorted(by[(m, maker)].values(), key=lambda r: r["bytes"])
        if not pts:
            continue
        xs = [r["bytes"] / 2**20 for r in pts]; ys = [r["kld"] for r in pts]
        ax.plot(xs, ys, style + ("-" if maker == "quant" else ":"), label=label, markersize=10 if maker == "quant" else 6)
        if maker != "quant":
            for r, x, y in zip(pts, xs, ys):
                ax.annotate(r["name"], (x, y), textcoords="offset points", xytext=(4, 4 if maker == "llama" else -10), fontsize=7)
    ax.set_yscale("log")
    ax.ticklabel_format(axis="x", style="plain", useOffset=False)
    ax.set_xlabel("file size (MiB)")
    ax.set_ylabel("mean KL divergence vs F32 (llama-perplexity, eval text)")
    ax.set_title(f"{m}: KLD vs file size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = os.path.join(a.out, f"target-size-{m}.png")
    fig.savefig(path, dpi=110)
    print(f"wrote {path}", file=sys.stderr)
