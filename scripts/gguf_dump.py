#!/usr/bin/env python3
"""Dump what gguf-py (pip install gguf) reads from a GGUF file, as JSON.

The output has the shape of QuantKit's `GGUFFile.jsonSummary()` (and `quant inspect --json`),
so the two can be compared entry by entry:

  gguf_dump.py dump FILE            {"version", "alignment", "data_offset", "metadata": [...], "tensors": [...]}
      metadata entry: {"key", "type", ["element_type",] "value"}; type names as gguf-py's
      GGUFValueType (UINT8 ... FLOAT64); an array of arrays lists {"element_type", "value"}
      objects. Floats are exact (a FLOAT32 is printed as the double it widens to); NaN and
      infinities are the strings "nan", "inf", "-inf".
      tensor: {"name", "type" (ggml name, e.g. Q4_K), "shape" (innermost first, as stored),
      "offset" (relative to the data section), "bytes"}
  gguf_dump.py hashes FILE          {tensor name: sha256 of its data as gguf-py loads it}
  gguf_dump.py range-hashes FILE    reads [[name, absolute offset, byte count], ...] on stdin,
                                    prints {name: sha256 of those bytes of FILE}
"""
import hashlib
import json
import math
import mmap
import os
import sys

import numpy as np
from gguf import GGUFReader, GGUFValueType
from gguf.constants import GGMLQuantizationType


class FastReader(GGUFReader):
    """gguf-py's GGUFReader, with the contents of big metadata arrays read in bulk.

    Stock GGUFReader makes one numpy slice per array element, which costs ~30 s of CPU for a
    262,144-token vocabulary. Here gguf-py still walks the whole file (header, every key, its
    type, where each value and array starts and ends, tensor infos, alignment, data offsets);
    only the elements of arrays of scalars and of strings are read by this override, as one
    ("bulk", ndarray) or ("strings", [str]) part. GGUF_DUMP_STOCK=1 uses the stock reader,
    whose output is identical (checked on the three test models).
    """

    def _get_field_parts(self, orig_offs, raw_type):
        gtype = GGUFValueType(raw_type)
        if gtype != GGUFValueType.ARRAY or self.byte_order != "I":
            return super()._get_field_parts(orig_offs, raw_type)
        d = self.data.view(np.ndarray)
        raw_itype = d[orig_offs:orig_offs + 4].view(np.uint32)
        itype = GGUFValueType(int(raw_itype[0]))
        alen = d[orig_offs + 4:orig_offs + 12].view(np.uint64)
        n = int(alen[0])
        offs = orig_offs + 12
        types = [gtype, itype] if n else [gtype]
        nptype = self.gguf_scalar_to_np.get(itype)
        if nptype is not None:
            size = np.dtype(nptype).itemsize * n
            if offs + size > len(d):
                raise ValueError("array runs past the end of the file")
            return 12 + size, [raw_itype, alen, ("bulk", d[offs:offs + size].view(nptype))], [2], types
        if itype != GGUFValueType.STRING:
            return super()._get_field_parts(orig_offs, raw_type)
        mv = memoryview(d)
        end = len(d)
        items = []
        for _ in range(n):
            ln = int.from_bytes(mv[offs:offs + 8], "little")
            if offs + 8 + ln > end:
                raise ValueError("string runs past the end of the file")
            items.append(str(mv[offs + 8:offs + 8 + ln], "utf-8"))
            offs += 8 + ln
        return offs - orig_offs, [raw_itype, alen, ("strings", items)], [2], types


def reader(path):
    if os.environ.get("GGUF_DUMP_STOCK") == "1":
        return GGUFReader(path)
    return FastReader(path)


def number(v, gtype):
    if gtype in (GGUFValueType.FLOAT32, GGUFValueType.FLOAT64):
        f = float(v)
        if math.isnan(f):
            return "nan"
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        return f
    if gtype == GGUFValueType.BOOL:
        return bool(v)
    return int(v)


def build(parts, i, gtype):
    """Rebuilds one value from gguf-py's flat field parts, starting at parts[i]."""
    if gtype == GGUFValueType.STRING:
        return bytes(parts[i + 1]).decode("utf-8"), i + 2
    if gtype == GGUFValueType.ARRAY:
        itype = GGUFValueType(int(parts[i][0]))
        n = int(parts[i + 1][0])
        i += 2
        if i < len(parts) and isinstance(parts[i], tuple):  # FastReader's bulk parts
            kind, data = parts[i]
            if kind == "strings":
                return (itype, data), i + 1
            vals, i = data, i + 1
        elif itype == GGUFValueType.STRING:
            items = [bytes(parts[j]).decode("utf-8") for j in range(i + 1, i + 2 * n, 2)]
            return (itype, items), i + 2 * n
        elif itype != GGUFValueType.ARRAY:
            # stock gguf-py stores each element of a scalar array as its own part
            vals = np.concatenate(parts[i:i + n]) if n else np.zeros(0)
            i += n
        if itype != GGUFValueType.ARRAY:
            if itype in (GGUFValueType.FLOAT32, GGUFValueType.FLOAT64):
                wide = vals.astype(np.float64)
                items = wide.tolist() if np.isfinite(wide).all() else [number(v, itype) for v in wide]
            else:
                items = vals.tolist()
            return (itype, items), i
        items = []
        for _ in range(n):
            v, i = build(parts, i, itype)
            if itype == GGUFValueType.ARRAY:
                v = {"element_type": v[0].name, "value": v[1]}
            items.append(v)
        return (itype, items), i
    return number(parts[i][0], gtype), i + 1


def dump(path):
    r = reader(path)
    md = []
    for key, field in r.fields.items():
        if key.startswith("GGUF."):
            continue
        gtype = GGUFValueType(int(field.parts[2][0]))
        value, end = build(field.parts, 3, gtype)
        assert end == len(field.parts), key
        entry = {"key": key, "type": gtype.name}
        if gtype == GGUFValueType.ARRAY:
            entry["element_type"] = value[0].name
            value = value[1]
        entry["value"] = value
        md.append(entry)
    tensors = []
    for t in r.tensors:
        tensors.append({
            "name": t.name,
            "type": GGMLQuantizationType(int(t.tensor_type)).name,
            "shape": [int(d) for d in t.shape],
            "offset": int(t.data_offset - r.data_offset),
            "bytes": int(t.n_bytes),
        })
    return {
        "version": int(r.fields["GGUF.version"].parts[0][0]),
        "alignment": int(r.alignment),
        "data_offset": int(r.data_offset),
        "metadata": md,
        "tensors": tensors,
    }


def hashes(path):
    r = reader(path)
    return {t.name: hashlib.sha256(np.ascontiguousarray(t.data).view(np.uint8).data).hexdigest() for t in r.tensors}


def range_hashes(path, ranges):
    out = {}
    with open(path, "rb") as f:
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if f.seek(0, 2) else b""
        for name, offset, count in ranges:
            out[name] = hashlib.sha256(m[offset:offset + count]).hexdigest()
    return out


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("dump", "hashes", "range-hashes"):
        sys.exit(__doc__)
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "dump":
        result = dump(path)
    elif mode == "hashes":
        result = hashes(path)
    else:
        result = range_hashes(path, json.load(sys.stdin))
    # ASCII-only: every non-ASCII character \u-escaped (Foundation's JSONSerialization on
    # Linux drops a raw U+FEFF at the start of a string).
    json.dump(result, sys.stdout, ensure_ascii=True, allow_nan=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
