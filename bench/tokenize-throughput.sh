#!/usr/bin/env bash
# Tokenizer speed, QuantKit vs llama.cpp, on the same 1 MB of English prose (models/text/eng).
#   bench/tokenize-throughput.sh LLAMA_BIN_DIR
# LLAMA_BIN_DIR holds llama.cpp's test-tokenizer-0 (built with -DLLAMA_BUILD_TESTS=ON), which
# prints the time llama_tokenize takes on a text file. QuantKit's side is the TokenizerBenchmark
# test (GGUF parse, tokenizer build, encode of the same text, best of 3; then every text file).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:?directory with llama.cpp test-tokenizer-0}
M=${QUANTKIT_MODELS:-$PWD/models}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
python3 - "$M" > "$W/eng.txt" <<'PY'
import glob, sys
b = b"".join(open(f, "rb").read() for f in sorted(glob.glob(sys.argv[1] + "/text/eng/*.txt")))[: 1 << 20]
while b and (b[-1] & 0xC0) == 0x80:
    b = b[:-1]
if b and b[-1] >= 0xC0:
    b = b[:-1]
sys.stdout.buffer.write(b)
PY
swift build -c release --build-tests > "$W/build.log" 2>&1 || { tail -20 "$W/build.log"; exit 1; }
echo "QuantKit:"
QUANTKIT_BENCH=1 swift test -c release --skip-build --filter TokenizerBenchmark 2>&1 | grep -E "tokens;|all " || true
echo "llama.cpp (llama_tokenize only, same text):"
for model in SmolLM2-135M-Instruct.Q4_1.gguf gemma-3-270m-q4_k_m.gguf qwen2.5-coder-0.5b-instruct-q4_k_m.gguf; do
    t=$("$BIN/test-tokenizer-0" "$M/$model" "$W/eng.txt" 2>&1 | grep -E "tokenized in" | sed 's/.*tokenized in //')
    echo "$model: $t"
done
