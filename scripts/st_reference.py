#!/usr/bin/env python3
"""Independent safetensors reader (json + numpy only) used by the Swift tests as a reference.

    st_reference.py PATH

PATH is a .safetensors file, a *.safetensors.index.json, or a directory holding either.
Prints one JSON object on stdout:

    {"metadata": {...} | null, "index_total_size": int | null,
     "tensors": [{"name", "dtype", "shape", "offsets", "file", "header_position",
                  "checksum", "f32_checksum", "samples"}]}

checksum      sum(word[i] * (i % 251 + 1)) mod 2**64 over the raw data read as little-endian
              uint64 words (the tail zero-padded to 8 bytes), as a decimal string
f32_checksum  the same sum over the uint32 words of the data converted to float32 (NaNs
              canonicalised to 0x7fc00000), as a decimal string
samples       [[element index, float32 bits]] at indices 0, n//3, n//2, n-1

The conversions are written independently of QuantKit (numpy casts and bit arithmetic).
"""
import json
import os
import struct
import sys

import numpy as np

CHUNK = 1 << 22


def weighted_checksum(a):
    """sum(a[i] * (i % 251 + 1)) mod 2**64 for an array of unsigned integers."""
    total = np.uint64(0)
    with np.errstate(over="ignore"):
        for start in range(0, a.size, CHUNK):
            part = a[start:start + CHUNK].astype(np.uint64)
            w = (np.arange(start, start + part.size, dtype=np.uint64) % np.uint64(251)) + np.uint64(1)
            total = np.uint64(total + np.sum(part * w, dtype=np.uint64))
    return int(total)


def e4m3_table():
    b = np.arange(256, dtype=np.int64)
    sign = np.where(b & 0x80, -1.0, 1.0)
    e = (b >> 3) & 0xF
    m = (b & 7).astype(np.float64)
    normal = np.ldexp(1.0 + m / 8.0, (e - 7).astype(np.int32))
    sub = np.ldexp(m / 8.0, -6)
    v = sign * np.where(e == 0, sub, normal)
    v[(e == 15) & ((b & 7) == 7)] = np.nan
    return v.astype(np.float32)


def to_f32(raw, dtype):
    with np.errstate(over="ignore", invalid="ignore"):
        if dtype == "F32":
            return np.frombuffer(raw, "<f4")
        if dtype == "F16":
            return np.frombuffer(raw, "<f2").astype(np.float32)
        if dtype == "BF16":
            return (np.frombuffer(raw, "<u2").astype(np.uint32) << np.uint32(16)).view(np.float32)
        if dtype == "F64":
            return np.frombuffer(raw, "<f8").astype(np.float32)
        if dtype == "F8_E4M3":
            return e4m3_table()[np.frombuffer(raw, np.uint8)]
        if dtype == "F8_E5M2":
            return (np.frombuffer(raw, np.uint8).astype(np.uint16) << np.uint16(8)).view(np.float16).astype(np.float32)
        if dtype == "F8_E8M0":
            b = np.frombuffer(raw, np.uint8).astype(np.int32)
            v = np.ldexp(np.float32(1.0), b - 127).astype(np.float32)
            v[b == 255] = np.nan
            return v
        if dtype == "BOOL":
            return (np.frombuffer(raw, np.uint8) != 0).astype(np.float32)
        ints = {"U8": "u1", "I8": "i1", "I16": "<i2", "U16": "<u2", "I32": "<i4", "U32": "<u4",
                "I64": "<i8", "U64": "<u8"}
        return np.frombuffer(raw, ints[dtype]).astype(np.float32)


def describe_file(path, shard_name):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n).decode("utf-8"))
        data = f.read()
    metadata = header.pop("__metadata__", None)
    out = []
    for position, (name, t) in enumerate(header.items()):
        a, b = t["data_offsets"]
        raw = data[a:b]
        count = int(np.prod(t["shape"], dtype=np.int64))
        f32 = np.array(to_f32(raw, t["dtype"]), dtype=np.float32).reshape(-1)
        assert f32.size == count, (name, f32.size, count)
        bits = f32.view(np.uint32).copy()
        bits[np.isnan(f32)] = 0x7FC00000
        samples = sorted({0, count // 3, count // 2, count - 1}) if count else []
        out.append({
            "name": name, "dtype": t["dtype"], "shape": t["shape"], "offsets": [a, b],
            "file": shard_name, "header_position": position,
            "checksum": str(weighted_checksum(np.frombuffer(raw + bytes(-len(raw) % 8), "<u8"))),
            "f32_checksum": str(weighted_checksum(bits)),
            "samples": [[i, int(bits[i])] for i in samples],
        })
    return metadata, out


def main():
    path = sys.argv[1]
    if os.path.isdir(path):
        index = os.path.join(path, "model.safetensors.index.json")
        path = index if os.path.exists(index) else os.path.join(path, "model.safetensors")
    result = {"metadata": None, "index_total_size": None, "tensors": []}
    if path.endswith(".json"):
        with open(path, encoding="utf-8") as f:
            index = json.load(f)
        result["index_total_size"] = index.get("metadata", {}).get("total_size")
        base = os.path.dirname(path)
        for shard in sorted(set(index["weight_map"].values())):
            metadata, tensors = describe_file(os.path.join(base, shard), shard)
            result["metadata"] = result["metadata"] or metadata
            result["tensors"].extend(tensors)
    else:
        result["metadata"], result["tensors"] = describe_file(path, os.path.basename(path))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
