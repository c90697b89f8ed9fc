"""Collects llama.cpp's logs from make-engine-fixtures.sh into one JSON fixture."""
import json, re, struct, sys

work, out, ctx, chunks = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ref = {"source": "llama.cpp from llama-cpp-python==0.3.36 (vendor/llama.cpp), CPU, 2 threads",
       "text": "text/eng/history.txt", "context": ctx, "chunks": chunks, "models": {}}
prompts = ["The capital of France is", "Once upon a time, in a small village,", "def fibonacci(n):"]

def final_ppl(path):
    m = re.search(r"Final estimate: PPL = ([0-9.]+) \+/- ([0-9.]+)", open(path).read())
    return {"ppl": float(m.group(1)), "error": float(m.group(2))}

def kld(path):
    s = open(path).read()
    g = lambda pat: float(re.search(pat, s).group(1))
    return {"ppl": g(r"Mean PPL\(Q\)\s*:\s*([0-9.]+)"), "base_ppl": g(r"Mean PPL\(base\)\s*:\s*([0-9.]+)"),
            "mean_kld": g(r"Mean\s+KLD:\s*([0-9.]+)"), "median_kld": g(r"Median\s+KLD:\s*([0-9.]+)"),
            "max_kld": g(r"Maximum KLD:\s*([0-9.]+)"), "rms_dp_percent": g(r"RMS Δp\s*:\s*([0-9.]+)"),
            "same_top_percent": g(r"Same top p:\s*([0-9.]+)")}

for m in ["smollm2", "gemma3", "qwen25"]:
    entry = {"perplexity": {"F32": final_ppl(f"{work}/{m}-F32.ppl"), "original": final_ppl(f"{work}/{m}-orig.ppl")},
             "kl_divergence": {t: kld(f"{work}/{m}-{t}.kld") for t in ["Q8_0", "Q4_0", "Q4_K_M"]},
             "greedy": {}}
    # The evaluated tokens (llama.cpp's tokenization of the text), from the base logits file.
    with open(f"{work}/{m}-F32.logits", "rb") as f:
        assert f.read(8) == b"_logits_"
        n_ctx, n_vocab, n_chunk = struct.unpack("<Iii", f.read(12))
        entry["tokens"] = list(struct.unpack(f"<{n_ctx * n_chunk}i", f.read(4 * n_ctx * n_chunk)))
    cur = None
    for line in open(f"{work}/{m}.greedy"):
        if line.startswith("== "):
            cur = line[3:].strip(); entry["greedy"][cur] = []; continue
        if line.strip():
            rec = json.loads(line); rec["prompt"] = prompts[len(entry["greedy"][cur])]
            entry["greedy"][cur].append(rec)
    ref["models"][m] = entry
json.dump(ref, open(out, "w"), indent=1)
print("wrote", out)
