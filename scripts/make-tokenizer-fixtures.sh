#!/usr/bin/env bash
# Regenerates the Tokenizers test fixtures (Tests/TokenizersTests/Fixtures/*.json) with
# llama.cpp itself, so the Swift tokenizer is checked against the real thing.
#
#   scripts/make-tokenizer-fixtures.sh [LLAMA_CPP_DIR]
#
# LLAMA_CPP_DIR (default $LLAMA_CPP, else /work/ref/llama-cpp-python/vendor/llama.cpp) is a
# llama.cpp checkout built with CMake (headers in include/ and ggml/include, libllama.so and
# libggml*.so in build/bin). Needs a C compiler, python3 (only to assemble the inputs), the
# real models and texts installed by scripts/fetch-models.sh ($QUANTKIT_MODELS or ./models),
# and llama.cpp's reference vocabularies in ../shared/reference/tokenizer.
#
# For each model, scripts/tokenize_reference.c loads the vocabulary (vocab_only) and writes
# one JSON file: special ids, end-of-generation tokens, checksums of every token's piece,
# the built-in chat template output, and for each input case the ids llama_tokenize gives
# (with the case's add_special / parse_special) and what llama_detokenize gives back. The
# inputs are edge cases (empty, spaces, newlines, CRLF, emoji, digits, contractions, chat
# markup, Unicode newer than llama.cpp's tables), ~700-byte samples of 18 languages and 12
# programming languages from models/text, and, as count + FNV-1a hash only, every whole text
# file of models/text (the tests read those files from the models directory).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LLAMA_CPP="${1:-${LLAMA_CPP:-/work/ref/llama-cpp-python/vendor/llama.cpp}}"
MODELS="${QUANTKIT_MODELS:-$REPO_ROOT/models}"
SHARED="$REPO_ROOT/../shared/reference/tokenizer"
OUT="$REPO_ROOT/Tests/TokenizersTests/Fixtures"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tok-fixtures.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

die() { echo "make-tokenizer-fixtures: error: $*" >&2; exit 1; }
[[ -f "$LLAMA_CPP/include/llama.h" ]] || die "no llama.cpp checkout at $LLAMA_CPP"
[[ -f "$LLAMA_CPP/build/bin/libllama.so" ]] || die "llama.cpp is not built ($LLAMA_CPP/build/bin/libllama.so)"
[[ -d "$MODELS/text" ]] || die "no texts in $MODELS/text: run scripts/fetch-models.sh"

BIN="$LLAMA_CPP/build/bin"
${CC:-cc} -O2 -std=c11 -Wall -I"$LLAMA_CPP/include" -I"$LLAMA_CPP/ggml/include" \
    "$REPO_ROOT/scripts/tokenize_reference.c" -o "$WORK/tokenize_reference" \
    -L"$BIN" -lllama -lggml -lggml-base -Wl,-rpath,"$BIN"

# Inputs: $WORK/cases-full (edge cases, samples, digests of every text file) for the real
# models, $WORK/cases-ref (edge cases, digests of a few files) for the reference vocabularies.
GGUF_PY="$LLAMA_CPP/gguf-py" python3 - "$MODELS" "$WORK" <<'PY'
import json, os, sys
models, work = sys.argv[1], sys.argv[2]

def record(out, name, text, add_special=False, parse_special=False, digest=False, file=None):
    data = text if isinstance(text, bytes) else text.encode("utf-8")
    header = {"name": name, "add_special": add_special, "parse_special": parse_special, "digest": digest}
    if file:
        header["file"] = file
    out.write(b"@@case " + json.dumps(header, ensure_ascii=False).encode("utf-8") + b" %d\n" % len(data))
    out.write(data + b"\n")

edge = [
    ("empty", ""), ("space", " "), ("two spaces", "  "), ("tab", "\t"), ("newline", "\n"),
    ("three newlines", "\n\n\n"), ("crlf", "\r\n"), ("crlf lines", "first line\r\nsecond line\r\n\r\nthird"),
    ("many spaces", " " * 40), ("many newlines", "\n" * 40), ("mixed whitespace", " \t \n  \r\n\t\tx \n\n y  "),
    ("leading/trailing", "   leading and trailing   "), ("hello", "Hello world"), ("hello space", " Hello world"),
    ("hello punct", "Hello, y'all! How are you 😁 ?我想在apple工作1314151天～"),
    ("digits", "12345678"), ("numbers", "3.14159 1,000,000 -42 0x1F ２０２４ ٣٤٥ ¹²³ ½ Ⅻ"),
    ("contractions", "I'm, you're, he's, they'd, we'll, I've, DON'T, WE'LL, it'S, 'tis, rock'n'roll, don’t"),
    ("emoji", "🚀 (normal) 😶‍🌫️ (multiple emojis concatenated) ✅ 👨‍👩‍👧‍👦🏳️‍🌈 🦙.cpp"),
    ("scripts", "Ελληνικά русский العربية עברית हिन्दी ไทย 한국어 日本語 中文 ქართული"),
    ("unicode whitespace", "a\u00a0b\u2003c\u3000d\u0085e\u2028f\u200bg"),
    ("control chars", "x\u0000y\u0001z\u001f\u007f!"),
    ("combining", "e\u0301 a\u0308 n\u0303 ñ Å ﬁ ǅ"),
    ("unicode 16", "new emoji \U0001FAE9 and marks \u0897\u1AD0 and Garay \U00010D40\U00010D41"),
    ("repeats", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!!!!!!!!!!!......"),
    ("code", "def f(x):\n\tif x >= 10:\n\t\treturn x ** 2  # square\n    return {'a': [1, 2, 3]}\n"),
    ("html", "<div class=\"a\"><p>Hi &amp; bye</p><br/></div>\n<table><tr><td>1</td></tr></table>"),
    ("markup words", "<s> </s> <unk> <pad> <eos> <bos> [INST] [/INST] <<SYS>> <|endoftext|>"),
    ("malformed utf-8", b"abc\xff\xfe def \xc3( \xe2\x82 end \xc0\x80 \xed\xa0\x80 x\x80y \xe2\x96\x81z \xf0\x9f"),
]
chat = [
    ("chatml", "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi there!<|im_end|>\n<|im_start|>assistant\n"),
    ("gemma turns", "<start_of_turn>user\nHi there!<end_of_turn>\n<start_of_turn>model\n"),
    ("llama2 inst", "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi there! [/INST] Hello.</s>"),
    ("phi3 turns", "<|user|>\nHi there!<|end|>\n<|assistant|>\n"),
]
langs = ["eng", "deu", "fra", "spa", "rus", "ell", "ara", "heb", "hin", "ben", "tha", "zho", "jpn", "kor",
         "vie", "tur", "pol", "ukr"]
code = ["python", "c++", "rust", "swift", "html", "sql", "bash", "haskell", "math", "typescript", "go", "php"]

def sample(path, start=2000, size=700):
    data = open(path, "rb").read()
    s = data.find(b"\n", start) + 1          # from a line start
    e = s + size
    while e < len(data) and (data[e] & 0xC0) == 0x80:
        e += 1                                # never cut a character
    return data[s:e]

texts = []
for d in sorted(os.listdir(f"{models}/text")):
    if d == "coding":
        for c in sorted(os.listdir(f"{models}/text/coding")):
            for f in sorted(os.listdir(f"{models}/text/coding/{c}")):
                texts.append(f"coding/{c}/{f}")
    else:
        for f in sorted(os.listdir(f"{models}/text/{d}")):
            if f.endswith(".txt"):
                texts.append(f"{d}/{f}")

with open(f"{work}/cases-pre", "wb") as pre:
    for name, text in edge:
        record(pre, name, text)
    record(pre, "hello +special", "Hello world", add_special=True)
    for lang in ["eng", "rus", "zho", "ara", "hin", "kor"]:
        record(pre, f"sample {lang}", sample(f"{models}/text/{lang}/{lang}.txt", size=200))
    for c in ["python", "html"]:
        record(pre, f"sample {c}", sample(f"{models}/text/coding/{c}/{c}.txt", size=200))

with open(f"{work}/cases-full", "wb") as out, open(f"{work}/cases-ref", "wb") as ref:
    for name, text in edge:
        record(out, name, text)
        record(ref, name, text)
    for name in ["empty", "space", "hello", "newline"]:
        text = dict(edge)[name]
        record(out, name + " +special", text, add_special=True)
        record(ref, name + " +special", text, add_special=True)
    for name, text in chat:
        for parse in (False, True):
            record(out, name, text, add_special=True, parse_special=parse)
            record(ref, name, text, add_special=True, parse_special=parse)
    for lang in langs:
        record(out, f"sample {lang}", sample(f"{models}/text/{lang}/{lang}.txt"))
    for c in code:
        record(out, f"sample {c}", sample(f"{models}/text/coding/{c}/{c}.txt"))
    for t in texts:
        data = open(f"{models}/text/{t}", "rb").read()
        record(out, f"file {t}", data, digest=True, file=t)
        if t in ("eng/eng.txt", "rus/rus.txt", "zho/zho.txt", "ara/ara.txt", "eng/weird.txt",
                 "coding/python/python.txt", "coding/c++/c++.txt", "coding/html/html.txt"):
            record(ref, f"file {t}", data, digest=True, file=t)

# Chat templates: llama.cpp's built-in names, Jinja snippets that select each family, the
# real models' templates, and one nobody knows.
names = ["chatml", "llama2", "llama2-sys", "llama2-sys-bos", "llama2-sys-strip", "mistral-v1", "mistral-v3",
         "mistral-v3-tekken", "mistral-v7", "mistral-v7-tekken", "phi3", "phi4", "falcon3", "zephyr", "monarch",
         "gemma", "orion", "openchat", "vicuna", "vicuna-orca", "deepseek", "deepseek2", "deepseek3",
         "command-r", "llama3", "chatglm3", "chatglm4", "glmedge", "minicpm", "exaone3", "granite", "llama4",
         "smolvlm", "gpt-oss"]
snippets = [
    "{% for m in messages %}{{ '<start_of_turn>' + m['role'] + '\\n' + m['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}",
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}",
    "{{ bos_token + '[INST] ' + message['content'] + ' [/INST]' }}",
    "{{ '[INST] <<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' }}",
    "{{ bos_token + '[INST] ' + message['content'].strip() + ' [/INST]' }}{{ content.strip() }}",
    "{{ '<|user|>\\n' + message['content'] + '<|end|>\\n<|assistant|>\\n' }}",
    "{{ '<|im_start|>' + message['role'] + '<|im_sep|>' + message['content'] + '<|im_end|>' }}",
    "{{ '[SYSTEM_PROMPT]' + system + '[/SYSTEM_PROMPT][INST]' + message['content'] + '[/INST]' }}",
    "{{ '<|user|>\\n' + message['content'] + '<|endoftext|>' }}",
    "{{ 'USER: ' + message['content'] + ' ASSISTANT: ' }}",
    "{{ '<|START_OF_TURN_TOKEN|><|USER_TOKEN|>' + message['content'] }}",
    "{{ '<|header_start|>user<|header_end|>' }}",
    "{{ '<|start|>user<|channel|>' }}",
    "{{ 'Human: ' + message['content'] }} no known markers here",
]
with open(f"{work}/templates", "wb") as out:
    for t in names + snippets:
        data = t.encode("utf-8")
        out.write(b"@@template %d\n" % len(data) + data + b"\n")
    sys.path.insert(0, os.environ["GGUF_PY"])  # llama.cpp's gguf-py reads the real templates
    import gguf
    for m in ["SmolLM2-135M-Instruct.Q4_1.gguf", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"]:
        f = gguf.GGUFReader(f"{models}/{m}").fields["tokenizer.chat_template"]
        t = bytes(f.parts[f.data[0]])
        out.write(b"@@template %d\n" % len(t) + t + b"\n")
PY

mkdir -p "$OUT"
for m in SmolLM2-135M-Instruct.Q4_1 gemma-3-270m-q4_k_m qwen2.5-coder-0.5b-instruct-q4_k_m; do
    [[ -f "$MODELS/$m.gguf" ]] || die "missing $MODELS/$m.gguf: run scripts/fetch-models.sh"
    echo "make-tokenizer-fixtures: $m"
    "$WORK/tokenize_reference" "$MODELS/$m.gguf" "$WORK/cases-full" > "$OUT/$m.json"
done
for v in llama-spm llama-bpe gpt-2 qwen2 phi-3; do
    [[ -f "$SHARED/ggml-vocab-$v.gguf" ]] || die "missing $SHARED/ggml-vocab-$v.gguf"
    echo "make-tokenizer-fixtures: ggml-vocab-$v"
    "$WORK/tokenize_reference" "$SHARED/ggml-vocab-$v.gguf" "$WORK/cases-ref" > "$OUT/ggml-vocab-$v.json"
done
# Every other supported pre-tokenizer, through llama.cpp: copies of the GPT-2 reference
# vocabulary with another tokenizer.ggml.pre (gguf-py's gguf_new_metadata.py), each run on
# the edge cases and short samples; the tests rebuild the same variants in memory.
PRES="default deepseek-llm deepseek-coder falcon starcoder command-r qwen35 poro-chat bloom viking dbrx
      chatglm-bpe glm4 megrez stablelm2 exaone pixtral trillion"
for p in $PRES; do
    echo "make-tokenizer-fixtures: ggml-vocab-gpt-2 with pre '$p'"
    PYTHONPATH="$LLAMA_CPP/gguf-py" python3 "$LLAMA_CPP/gguf-py/gguf/scripts/gguf_new_metadata.py" --force \
        "$SHARED/ggml-vocab-gpt-2.gguf" "$WORK/pre-$p.gguf" --pre-tokenizer "$p" > /dev/null 2>&1
    "$WORK/tokenize_reference" "$WORK/pre-$p.gguf" "$WORK/cases-pre" > "$WORK/pre-$p.json"
done
python3 - "$WORK" "$OUT/pre-tokenizers.json" $PRES <<'PY'
import json, sys
work, out, names = sys.argv[1], sys.argv[2], sys.argv[3:]
# The inputs once, then per variant its flags and, per input, the ids and (when it is not
# the input itself) the detokenized text.
cases, variants = None, {}
for n in names:
    d = json.load(open(f"{work}/pre-{n}.json"))
    if cases is None:
        cases = [{k: c[k] for k in ("name", "text", "text_hex", "add_special", "parse_special") if k in c}
                 for c in d["cases"]]
    v = {k: d[k] for k in ("bos", "eos", "add_bos", "add_eos")}
    v["tokens"] = [c["tokens"] for c in d["cases"]]
    v["detokenized"] = [None if c.get("roundtrip") else c.get("detokenized", {"hex": c.get("detokenized_hex")})
                        for c in d["cases"]]
    variants[n] = v
with open(out, "w") as f:
    json.dump({"base": "ggml-vocab-gpt-2.gguf", "cases": cases, "variants": variants}, f, ensure_ascii=False,
              separators=(",", ":"))
    f.write("\n")
PY

echo "make-tokenizer-fixtures: chat templates"
"$WORK/tokenize_reference" --chat "$WORK/templates" > "$OUT/chat-templates.json"
ls -l "$OUT"
