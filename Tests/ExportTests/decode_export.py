#!/usr/bin/env python3
"""Independent decoder for `quant export` checkpoints (numpy only; safetensors parsed by hand).

    decode_export.py SOURCE_DIR EXPORT_DIR [--dump LAYER OUT.f32]

Reads every quantized linear of EXPORT_DIR with the dequantization each layout documents:

  compressed-tensors pack-quantized: weight_packed int32 [out, in/8], value k of a word in bits
      4k..4k+3, stored as signed q + 8; weight_scale [out, in/g]; asymmetric weight_zero_point
      int32 [ceil(out/8), in/g] packed the same way along the output; w = (q - zp) * scale.
  GPTQ (AutoGPTQ v1): qweight int32 [in/8, out] packed along the input; qzeros int32
      [in/g, out/8] holding zero - 1; scales f16 [in/g, out]; g_idx; w = (q - (z + 1)) * s[g_idx].
  AWQ GEMM: qweight int32 [in, out/8], qzeros [in/g, out/8]: slot i of a word holds output
      column 8j + [0,2,4,6,1,3,5,7][i]; scales f16 [in/g, out]; w = (q - z) * s.

and compares it with an independent round-to-nearest of SOURCE_DIR's weights (symmetric:
scale = absmax/7.5; asymmetric: [min(min,0), max(max,0)]/15, zero = rint(-min/scale); the scale
rounded to the stored dtype; np.rint rounds half to even). Prints a JSON report.  With --dump,
writes LAYER's decoded weights as raw float32 (the Swift tests compare GPTQ/AWQ exports).
"""
import json, struct, sys
from pathlib import Path
import numpy as np

DT = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16, "I32": np.int32, "I64": np.int64, "U8": np.uint8}


def read_safetensors(path):
    raw = Path(path).read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        arr = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=DT[info["dtype"]]).reshape(info["shape"])
        if info["dtype"] == "BF16":
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        out[name] = arr
    return out


def read_checkpoint(d):
    d = Path(d)
    tensors = {}
    for f in sorted(d.glob("*.safetensors")):
        tensors.update(read_safetensors(f))
    return tensors


def unpack_rows(words, count):
    """int32 [..., W] -> uint8 [..., W*8]: nibble k of word w is element 8w+k."""
    w = words.astype(np.uint32)
    parts = [(w >> (4 * k)) & 0xF for k in range(8)]
    return np.stack(parts, axis=-1).reshape(*w.shape[:-1], -1)[..., :count].astype(np.int64)


def decode(fmt, t, prefix, out_f, in_f, group, qc):
    if fmt == "compressed-tensors":
        q = unpack_rows(t[prefix + ".weight_packed"], in_f) - 8          # signed codes
        shape = t[prefix + ".weight_shape"].tolist()
        assert shape == [out_f, in_f], (prefix, shape)
        scale = t[prefix + ".weight_scale"].astype(np.float32)
        if prefix + ".weight_zero_point" in t:
            zp = unpack_rows(t[prefix + ".weight_zero_point"].T, out_f).T - 8   # packed along dim 0
        else:
            zp = np.zeros_like(scale, dtype=np.int64)
        gi = t[prefix + ".weight_g_idx"].astype(np.int64) if prefix + ".weight_g_idx" in t else np.arange(in_f) // group
        return ((q - zp[:, gi]).astype(np.float32) * scale[:, gi]).astype(np.float32)
    if fmt == "gptq":
        q = unpack_rows(t[prefix + ".qweight"].T, in_f)                   # [out, in]
        z = unpack_rows(t[prefix + ".qzeros"], out_f) + 1                 # [groups, out], v1: stored z-1
        s = t[prefix + ".scales"].astype(np.float32)                      # [groups, out]
        gi = t[prefix + ".g_idx"].astype(np.int64)
        return ((q - z[gi].T).astype(np.float32) * s[gi].T).astype(np.float32)
    if fmt == "awq":
        order = [0, 2, 4, 6, 1, 3, 5, 7]
        def unpack_awq(words):
            w = words.astype(np.uint32)
            res = np.zeros((w.shape[0], w.shape[1] * 8), dtype=np.int64)
            for i, col in enumerate(order):
                res[:, col::8] = (w >> (4 * i)) & 0xF
            return res
        q = unpack_awq(t[prefix + ".qweight"])                            # [in, out]
        z = unpack_awq(t[prefix + ".qzeros"])                             # [groups, out]
        s = t[prefix + ".scales"].astype(np.float32)
        gi = np.arange(in_f) // group
        return ((q - z[gi]).astype(np.float32) * s[gi]).T.astype(np.float32)
    raise SystemExit("unknown format " + fmt)


def reference_rtn(w, group, sym, scale_dtype):
    out_f, in_f = w.shape
    g = w.reshape(out_f, in_f // group, group).astype(np.float32)
    lo = np.minimum(g.min(axis=2), np.float32(0))
    hi = np.maximum(g.max(axis=2), np.float32(0))
    def stored(s):
        if scale_dtype == "F16":
            return s.astype(np.float16).astype(np.float32)
        if scale_dtype == "BF16":
            u = s.view(np.uint32).astype(np.uint64)
            return (((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16).astype(np.uint32).view(np.float32)
        return s
    if sym:
        s = stored(np.maximum(-lo, hi) / np.float32(7.5))
        eps = {"F16": 0.0009765625, "BF16": 0.0078125}.get(scale_dtype, np.finfo(np.float32).eps)
        s = np.where(s == 0, np.float32(eps), s).astype(np.float32)
        q = np.clip(np.rint(g / s[..., None]), -8, 7)
        return (q * s[..., None]).reshape(out_f, in_f).astype(np.float32)
    s = stored((hi - lo) / np.float32(15))
    eps = {"F16": 0.0009765625, "BF16": 0.0078125}.get(scale_dtype, np.finfo(np.float32).eps)
    s = np.where(s == 0, np.float32(eps), s).astype(np.float32)
    z = np.clip(np.rint(-lo / s), 0, 15)
    q = np.clip(np.rint(g / s[..., None]) + z[..., None], 0, 15)
    return ((q - z[..., None]) * s[..., None]).reshape(out_f, in_f).astype(np.float32)


def main():
    src_dir, out_dir = sys.argv[1], sys.argv[2]
    dump = sys.argv[sys.argv.index("--dump") + 1:sys.argv.index("--dump") + 3] if "--dump" in sys.argv else None
    cfg = json.loads((Path(out_dir) / "config.json").read_text())
    qc = cfg["quantization_config"]
    method = qc["quant_method"]
    fmt = {"compressed-tensors": "compressed-tensors", "gptq": "gptq", "awq": "awq"}[method]
    if fmt == "compressed-tensors":
        wq = qc["config_groups"]["group_0"]["weights"]
        group, sym, bits = wq["group_size"], wq["symmetric"], wq["num_bits"]
        assert qc["format"] == "pack-quantized" and qc["quantization_status"] == "compressed" and qc["ignore"] == ["lm_head"]
    elif fmt == "gptq":
        group, sym, bits = qc["group_size"], qc["sym"], qc["bits"]
        assert json.loads((Path(out_dir) / "quantize_config.json").read_text())["bits"] == bits
    else:
        group, sym, bits = qc["group_size"], None, qc["bits"]
    assert bits == 4
    src = read_checkpoint(src_dir)
    t = read_checkpoint(out_dir)
    layers = sorted(n[:-len(".weight")] for n, a in src.items()
                    if n.startswith("model.layers.") and n.endswith("_proj.weight") and a.ndim == 2)
    report = {"format": fmt, "layers": len(layers), "mismatched_layers": [], "max_abs_diff": 0.0, "copied_equal": True}
    for p in layers:
        w = src[p + ".weight"].astype(np.float32)
        got = decode(fmt, t, p, w.shape[0], w.shape[1], group, qc)
        if dump and dump[0] == p:
            got.astype(np.float32).tofile(dump[1])
        if "--no-reference" in sys.argv:
            continue
        if fmt == "compressed-tensors":
            scale_dtype = {np.dtype(np.float32): "F32", np.dtype(np.float16): "F16"}.get(t[p + ".weight_scale"].dtype, "BF16")
        else:
            scale_dtype = "F16"
        if sym is None:  # AWQ says zero_point: true always; symmetric iff every zero is 8
            zeros = unpack_rows(t[p + ".qzeros"], w.shape[0])
            layer_sym = bool((zeros == 8).all())
        else:
            layer_sym = sym
        ref = reference_rtn(w, group, layer_sym, scale_dtype)
        diff = float(np.abs(got - ref).max())
        report["max_abs_diff"] = max(report["max_abs_diff"], diff)
        if diff != 0:
            report["mismatched_layers"].append(p)
    # Everything that is not a quantized linear is copied bit for bit.
    for n, a in src.items():
        if n[:-len(".weight")] in layers:
            continue
        if n not in t or t[n].shape != a.shape or not np.array_equal(t[n].view(np.uint8), a.view(np.uint8)):
            report["copied_equal"] = False
    print(json.dumps(report))


if __name__ == "__main__":
    main()
