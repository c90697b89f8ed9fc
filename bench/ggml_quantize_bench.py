#!/usr/bin/env python3
"""Throughput of ggml's own ggml_quantize_chunk, called through ctypes on libggml-base.

Same rows, types and thread counts as `quant bench-formats`, so the two can be compared in
one run (see quantize-throughput.sh). ctypes releases the GIL during the call, so N Python
threads each quantizing a slice of the rows run ggml on N cores, the way llama-quantize does.
"""
import argparse, ctypes, json, time
from concurrent.futures import ThreadPoolExecutor
import numpy as np
import gguf

TYPE_IDS = {t.name: int(t.value) for t in gguf.GGMLQuantizationType}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True, help="path to libggml-base.so")
    ap.add_argument("--input", required=True, help="GGUF with one F32 2-D tensor")
    ap.add_argument("--imatrix", help="GGUF imatrix with <name>.in_sum2 for the tensor")
    ap.add_argument("--types", required=True)
    ap.add_argument("--threads", default="1")
    ap.add_argument("--seconds", type=float, default=1.0)
    a = ap.parse_args()

    lib = ctypes.CDLL(a.lib)
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                                        ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
    lib.ggml_row_size.restype = ctypes.c_size_t
    lib.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
    lib.ggml_quantize_requires_imatrix.restype = ctypes.c_bool
    lib.ggml_quantize_requires_imatrix.argtypes = [ctypes.c_int]

    r = gguf.GGUFReader(a.input)
    t = r.tensors[0]
    x = np.ascontiguousarray(np.array(t.data, dtype=np.float32).reshape(-1, int(t.shape[0])))
    rows, n = x.shape
    imat = None
    if a.imatrix:
        ri = gguf.GGUFReader(a.imatrix)
        s = {tt.name: tt for tt in ri.tensors}
        imat = np.ascontiguousarray(np.array(s[t.name + ".in_sum2"].data, dtype=np.float32).reshape(-1) /
                                    float(np.array(s[t.name + ".counts"].data).reshape(-1)[0]))

    results = []
    for tname in a.types.split(","):
        tid = TYPE_IDS[tname.upper()]
        w = imat if (imat is not None or lib.ggml_quantize_requires_imatrix(tid)) else None
        if w is None and lib.ggml_quantize_requires_imatrix(tid):
            continue
        row_size = lib.ggml_row_size(tid, n)
        out = np.zeros(rows * row_size, dtype=np.uint8)
        for nth in [int(v) for v in a.threads.split(",")]:
            per = (rows + nth - 1) // nth

            def work(i):
                r0 = i * per
                nr = min(rows, r0 + per) - r0
                if nr > 0:
                    lib.ggml_quantize_chunk(tid, x.ctypes.data, out.ctypes.data, r0 * n, nr, n,
                                            w.ctypes.data if w is not None else None)

            with ThreadPoolExecutor(nth) as ex:
                list(ex.map(work, range(nth)))  # warm-up (and grid init)
                reps, t0 = 0, time.perf_counter()
                while True:
                    list(ex.map(work, range(nth)))
                    reps += 1
                    el = time.perf_counter() - t0
                    if el >= a.seconds:
                        break
            results.append({"type": tname.upper(), "threads": nth, "imatrix": w is not None,
                            "mb_per_s": rows * n * 4 * reps / el / 1e6})
    print(json.dumps(results))


if __name__ == "__main__":
    main()
