#!/usr/bin/env python3
"""Summarizes GGUFs written by llama.cpp's convert_hf_to_gguf.py for the conversion tests.

    convert_fixture.py OUT.json NAME=FILE.gguf [NAME=FILE.gguf ...]

For each file: every metadata entry outside general.* as [key, type, digest] in file order,
and every tensor as [name, type, shape (ggml order), sha256 of its bytes]. The digest is the
value itself for strings, booleans and integers, the bit pattern for floats, and for arrays
"<count>:<sha256>" of the elements (strings NUL-terminated, numbers little-endian), which
Tests/ConversionTests recompute from QuantKit's output with its own code.
"""
import hashlib, json, struct, sys
import numpy as np
from gguf import GGUFReader

NP = {"INT32": "<i4", "UINT32": "<u4", "FLOAT32": "<f4", "INT64": "<i8", "UINT64": "<u8", "UINT8": "u1", "INT8": "i1"}


def digest(types, v):
    if types[0] == "ARRAY":
        if types[1] == "STRING":
            raw = b"".join(s.encode() + b"\0" for s in v)
        elif types[1] == "BOOL":
            raw = bytes(int(x) for x in v)
        else:
            raw = np.array(v, dtype=NP[types[1]]).tobytes()
        return f"{len(v)}:{hashlib.sha256(raw).hexdigest()}"
    if types[0] == "FLOAT32":
        return "0x%08x" % struct.unpack("<I", struct.pack("<f", v))[0]
    if types[0] == "BOOL":
        return "true" if v else "false"
    return str(v)


out = {}
for arg in sys.argv[2:]:
    name, path = arg.split("=", 1)
    r = GGUFReader(path)
    md = [[k, "[".join(t.name for t in f.types) + ("]" if len(f.types) > 1 else ""), digest([t.name for t in f.types], f.contents())]
          for k, f in r.fields.items() if not k.startswith(("GGUF.", "general."))]
    tensors = [[t.name, t.tensor_type.name, [int(x) for x in t.shape], hashlib.sha256(t.data.tobytes()).hexdigest()]
               for t in r.tensors]
    out[name] = {"metadata": md, "tensors": tensors}
with open(sys.argv[1], "w") as f:
    json.dump(out, f, indent=0, ensure_ascii=False)
