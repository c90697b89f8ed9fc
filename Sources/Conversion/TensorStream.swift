import QKCore
import QuantFormats
import SafeTensors

/// Produces one output tensor from its safetensors source in row chunks: widen to F32
/// (permuting q/k rows, adding Gemma's norm offset), round through the converted type, then
/// encode to the output type, chunk by chunk, handing each chunk's bytes to a sink.
///
/// Chunks are whole head groups when rows are permuted, so a chunk's output rows come from the
/// same source rows and the source pages can be released right after it; resident memory is
/// the chunk buffers (`chunkElements` floats and their encoding), whatever the model size.
final class TensorStream {
    let model: SafeTensorsModel
    let pool: ThreadPool
    let chunkElements: Int
    private var floats: UnsafeMutablePointer<Float>
    private var floatCount = 0
    private var bytes: UnsafeMutableRawPointer
    private var byteCount = 0

    init(model: SafeTensorsModel, pool: ThreadPool, chunkElements: Int = 4 << 20) {
        self.model = model
        self.pool = pool
        self.chunkElements = chunkElements
        floats = .allocate(capacity: 1)
        bytes = .allocate(byteCount: 1, alignment: 64)
    }

    deinit {
        floats.deallocate()
        bytes.deallocate()
    }

    private func reserve(floats n: Int, bytes b: Int) {
        if n > floatCount { floats.deallocate(); floats = .allocate(capacity: n); floatCount = n }
        if b > byteCount { bytes.deallocate(); bytes = .allocate(byteCount: b, alignment: 64); byteCount = b }
    }

    /// Streams tensor `t`, converted through `converted` and encoded as `target`, into `sink`.
    func write(_ t: HFCheckpoint.Tensor, from converted: GGMLType, to target: GGMLType, importance: [Float]?,
               sink: (UnsafeRawBufferPointer) throws -> Void, progress: (Int) -> Void) throws {
        let n = t.shape[0]
        let rows = t.shape.dropFirst().reduce(1, *)
        guard let entry = t.entry else {
            // A computed tensor: a few F32 values, kept F32 (1-D).
            guard target == .f32, let values = t.generated else { throw QuantKitError("tensor '\(t.name)' cannot be written as \(target.name)") }
            try values.withUnsafeBytes { try sink($0) }
            progress(rows)
            return
        }
        let file = model.file(for: entry)
        let data = try file.data(entry.info)
        let dtype = t.sourceType
        let srcRow = n * dtype.byteSize
        let plain = t.permuteHeads == 0 && !t.addOne
        // Whole head groups per chunk when permuting.
        let group = t.permuteHeads > 0 ? rows / t.permuteHeads : 1
        var perChunk = max(1, chunkElements / max(n, 1))
        perChunk = max(group, perChunk / group * group)
        let outRow = target.rowSize(n)
        reserve(floats: plain && dtype == .f32 ? 0 : perChunk * n, bytes: target == .f32 ? 0 : perChunk * outRow)
        var r = 0
        while r < rows {
            let m = min(perChunk, rows - r)
            let src = UnsafeRawBufferPointer(rebasing: data[r * srcRow ..< (r + m) * srcRow])
            if plain, dtype.ggmlType == target, converted == target {
                try sink(src)  // same type, no change: the bytes as they are
            } else {
                var values = try widen(t, src: src, data: data, firstRow: r, rows: m, n: n)
                if converted != .f32 && converted != target {
                    values = try roundTrip(values, count: m * n, through: converted)
                }
                if target == .f32 {
                    try sink(UnsafeRawBufferPointer(start: values, count: m * n * 4))
                } else if let importance {
                    try importance.withUnsafeBufferPointer { w in
                        try QuantCodec.quantize(target, src: values, dst: bytes, rows: m, n: n, importance: w.baseAddress!, pool: pool)
                    }
                    try sink(UnsafeRawBufferPointer(start: bytes, count: m * outRow))
                } else {
                    try QuantCodec.quantize(target, src: values, dst: bytes, rows: m, n: n, pool: pool)
                    try sink(UnsafeRawBufferPointer(start: bytes, count: m * outRow))
                }
            }
            file.file.dropPages(in: src)
            r += m
            progress(r)
        }
    }

    /// The chunk's values as F32: the source rows (permuted per head if asked) widened, plus
    /// Gemma's offset, computed in the source's precision as torch does (F16 stays F16).
    private func widen(_ t: HFCheckpoint.Tensor, src: UnsafeRawBufferPointer, data: UnsafeRawBufferPointer,
                       firstRow r0: Int, rows m: Int, n: Int) throws -> UnsafePointer<Float> {
        let dtype = t.sourceType
        if t.permuteHeads == 0 && !t.addOne && dtype == .f32 && Int(bitPattern: src.baseAddress) % 4 == 0 {
            return src.baseAddress!.assumingMemoryBound(to: Float.self)  // zero-copy
        }
        let out = floats
        if t.permuteHeads > 0 {
            // GGML's rotary layout: within each head of d rows, output row 2j+w is source row
            // w*(d/2)+j (the two halves interleaved).
            let rows = t.shape.dropFirst().reduce(1, *)
            let d = rows / t.permuteHeads, half = d / 2
            let rowBytes = n * dtype.byteSize
            for i in 0 ..< m {
                let r = r0 + i
                let head = r / d, k = r % d
                let s = head * d + (k % 2) * half + k / 2
                try SafeTensorsConversion.toF32(UnsafeRawBufferPointer(rebasing: data[s * rowBytes ..< (s + 1) * rowBytes]),
                                                dtype: dtype, into: UnsafeMutableBufferPointer(start: out + i * n, count: n))
            }
        } else {
            try SafeTensorsConversion.toF32(src, dtype: dtype, into: UnsafeMutableBufferPointer(start: out, count: m * n))
        }
        if t.addOne {
            for i in 0 ..< m * n {
                let v = out[i] + 1
                out[i] = dtype == .f16 ? Float(Float16(v)) : v
            }
        }
        return UnsafePointer(out)
    }

    /// Rounds `count` values in place through `type` (F16 or BF16), as writing the converted
    /// file and reading it back would.
    private func roundTrip(_ values: UnsafePointer<Float>, count: Int, through type: GGMLType) throws -> UnsafePointer<Float> {
        if values != UnsafePointer(floats) {
            // Zero-copy source: stage into the float buffer first.
            reserve(floats: count, bytes: 0)
            floats.update(from: values, count: count)
        }
        let q = floats
        switch type {
        case .f16: for i in 0 ..< count { q[i] = HalfFloat.f32(f16: HalfFloat.f16Bits(q[i])) }
        case .bf16: for i in 0 ..< count { q[i] = HalfFloat.f32(bf16: HalfFloat.bf16Bits(q[i])) }
        default: throw QuantKitError("cannot round values through \(type.name)")
        }
        return UnsafePointer(q)
    }
}
