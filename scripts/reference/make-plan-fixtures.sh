#!/usr/bin/env bash
# Records llama.cpp's own numbers for `quant plan` (Tests/PlanningTests/Fixtures/llama-cpp-plan-reference.json):
#  - weights: llama-quantize --dry-run's "quant size" (MiB, 2 decimals) for every file type of the three
#    real models (from their F32 dequantizations; IQ types with the models' importance matrices);
#  - kv: what llama-perplexity reports allocating (llama_kv_cache lines: cells, layers, K and V MiB;
#    the compute and output buffers) for several contexts, -ctk/-ctv cache types, ubatch sizes and
#    parallel sequences, including Gemma-3's sliding-window cache;
#  - files: byte size and data offset of every GGUF llama-quantize wrote in WORK_DIR (the tensor
#    data section is file size − data offset);
#  - quality: mean KLD / PPL ratio / same-top-p of llama-perplexity --kl-divergence against the F32
#    model (the .kld files of make-engine-fixtures.sh, plus SmolLM2 at a few more types).
#
#   IMATRIX_DIR=DIR scripts/reference/make-plan-fixtures.sh LLAMA_BIN_DIR [WORK_DIR]
#
# IMATRIX_DIR holds <shipped model name>.imatrix.gguf importance matrices (llama-imatrix on the F32
# models), used for the IQ types and Q2_K_S as llama-quantize requires; the recorded run used
# /work/cmpout. Delete a WORK_DIR/plan/*.log or *.kld file to have it measured again.
#
# LLAMA_BIN_DIR: llama-quantize and llama-perplexity built from the llama-cpp-python==0.3.36 sdist
# (vendor/llama.cpp, CPU). WORK_DIR: make-engine-fixtures.sh's work dir (F32 models, logits, .kld).
set -euo pipefail
BIN="$1"; WORK="${2:-/tmp/qk-engine-ref}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MODELS="${QUANTKIT_MODELS:-$ROOT/models}"
OUT="$ROOT/Tests/PlanningTests/Fixtures/llama-cpp-plan-reference.json"
LOGS="$WORK/plan"; mkdir -p "$LOGS"
declare -A SRC=([smollm2]=SmolLM2-135M-Instruct.Q4_1.gguf [gemma3]=gemma-3-270m-q4_k_m.gguf [qwen25]=qwen2.5-coder-0.5b-instruct-q4_k_m.gguf)
TYPES="F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K Q2_K_S Q3_K_S Q3_K_M Q3_K_L Q4_K_S Q4_K_M Q5_K_S Q5_K_M Q6_K
IQ2_XXS IQ2_XS IQ2_S IQ2_M IQ3_XXS IQ3_XS IQ3_S IQ3_M IQ4_NL IQ4_XS IQ1_S IQ1_M TQ1_0 TQ2_0 Q1_0 Q2_0 MXFP4_MOE"
echo "a" > "$LOGS/short.txt"   # too short to evaluate: llama-perplexity stops right after creating the context
for m in smollm2 gemma3 qwen25; do
    f32="$WORK/$m-F32.gguf"
    for t in $TYPES; do
        log="$LOGS/$m-$t.dry"
        [[ -s "$log" ]] && continue
        im=(); [[ $t == IQ* || $t == Q2_K_S ]] && [[ -n "${IMATRIX_DIR:-}" ]] && im=(--imatrix "$IMATRIX_DIR/${SRC[$m]%.gguf}.imatrix.gguf")
        "$BIN/llama-quantize" --dry-run "${im[@]}" "$f32" "$t" > "$log" 2>&1 || true
    done
    src="$MODELS/${SRC[$m]}"
    run() {  # name, extra args
        local log="$LOGS/$m-kv-$1.log"; shift
        [[ -s "$log" ]] || "$BIN/llama-perplexity" -m "$src" -f "$LOGS/short.txt" -t 1 -lv 4 "$@" > "$log" 2>&1 || true
    }
    for c in 512 1000 4096 8192; do
        for kv in f16:f16 q8_0:q8_0 q4_0:q4_0 q8_0:q4_0 f16:q8_0; do
            run "c$c-${kv/:/-}" -c $c -b $c -ctk "${kv%%:*}" -ctv "${kv##*:}"
        done
    done
    run "c4096-ub256" -c 4096 -b 4096 -ub 256
    run "c2048-np2" -c 2048 -b 4096
    run "c2048-np4-kvu" -c 2048 -b 8192 -kvu
    run "c4096-swafull" -c 4096 -b 4096 --swa-full
    run "c32768" -c 32768 -b 512
    # quality at more types than make-engine-fixtures.sh measures (under a minute each)
    for t in Q6_K Q5_K_M Q3_K_M Q2_K; do
        [[ -s "$WORK/$m-$t.gguf" ]] || "$BIN/llama-quantize" "$f32" "$WORK/$m-$t.gguf" $t > "$WORK/$m-$t.qlog" 2>&1
        [[ -s "$WORK/$m-$t.kld" ]] || nice "$BIN/llama-perplexity" -m "$WORK/$m-$t.gguf" -c 512 -b 512 -t 2 \
            --kl-divergence-base "$WORK/$m-F32.logits" --kl-divergence > "$WORK/$m-$t.kld" 2>&1
    done
done
GGUF_PY="$(dirname "$BIN")/../gguf-py" python3 - "$LOGS" "$WORK" "$OUT" <<'PY'
import glob, json, os, re, sys
logs, work, out = sys.argv[1:]
ref = {"source": "llama.cpp from llama-cpp-python==0.3.36 (vendor/llama.cpp), CPU build; scripts/reference/make-plan-fixtures.sh",
       "weights": {}, "kv": {}, "quality": {}, "files": {}}
sys.path.insert(0, os.environ.get("GGUF_PY", ""))  # gguf-py of the same llama.cpp tree
try:
    from gguf import GGUFReader
except ImportError:
    GGUFReader = None
for f in sorted(glob.glob(f"{work}/*-*.gguf")) if GGUFReader else []:
    m, t = os.path.basename(f)[:-5].split("-", 1)
    if t == "F32": continue
    r = GGUFReader(f)
    ref["files"].setdefault(m, {})[t] = dict(file_bytes=os.path.getsize(f), data_offset=int(r.data_offset))
for f in sorted(glob.glob(f"{logs}/*.dry")):
    m, t = os.path.basename(f)[:-4].split("-", 1)
    s = open(f, errors="replace").read()
    q = re.search(r"quant size\s*=\s*([\d.]+) MiB", s)
    if q: ref["weights"].setdefault(m, {})[t] = float(q.group(1))
for f in sorted(glob.glob(f"{logs}/*-kv-*.log")):
    name = os.path.basename(f)[:-4]
    m, case = name.split("-kv-")
    s = open(f, errors="replace").read()
    caches = [dict(cells=int(c), layers=int(l), seqs=int(q), streams=int(st), k_type=kt, k_mib=float(k), v_type=vt, v_mib=float(v))
              for c, l, q, st, kt, k, vt, v in re.findall(
                  r"llama_kv_cache: size =\s*[\d.]+ MiB \(\s*(\d+) cells,\s*(\d+) layers,\s*(\d+)/(\d+) seqs\), K \((\w+)\):\s*([\d.]+) MiB, V \((\w+)\):\s*([\d.]+) MiB", s)]
    if not caches: continue
    g = lambda pat, cast=int: (lambda r: cast(r.group(1)) if r else None)(re.search(pat, s))
    ref["kv"].setdefault(m, {})[case] = dict(
        n_ctx=g(r"llama_context: n_ctx\s*=\s*(\d+)"), n_ctx_seq=g(r"llama_context: n_ctx_seq\s*=\s*(\d+)"),
        n_seq_max=g(r"llama_context: n_seq_max\s*=\s*(\d+)"), n_ubatch=g(r"llama_context: n_ubatch\s*=\s*(\d+)"),
        n_batch=g(r"llama_context: n_batch\s*=\s*(\d+)"), flash_attn=g(r"llama_context: flash_attn\s*=\s*(\w+)", str),
        swa_full="--swa-full" in case or "swafull" in case, caches=caches,
        compute_mib=g(r"CPU compute buffer size =\s*([\d.]+) MiB", float),
        output_mib=g(r"CPU\s+output buffer size =\s*([\d.]+) MiB", float))
for f in sorted(glob.glob(f"{work}/*.kld")):
    m, t = os.path.basename(f)[:-4].split("-", 1)
    s = open(f, errors="replace").read()
    g = lambda pat: (lambda r: float(r.group(1)) if r else None)(re.search(pat, s))
    kld = g(r"Mean\s+KLD:\s*([\d.\-]+)")
    if kld is None: continue
    ref["quality"].setdefault(m, {})[t] = dict(mean_kld=kld, ppl_ratio=g(r"Mean PPL\(Q\)/PPL\(base\)\s*:\s*([\d.]+)"),
        same_top_p=g(r"Same top p:\s*([\d.]+)"), ppl=g(r"Mean PPL\(Q\)\s*:\s*([\d.]+)"), ppl_base=g(r"Mean PPL\(base\)\s*:\s*([\d.]+)"))
json.dump(ref, open(out, "w"), indent=1, sort_keys=True)
print("wrote", out)
PY
