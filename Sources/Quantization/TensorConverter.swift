import QKCore
import QuantFormats

/// Converts one tensor's data to another type, streaming it in row chunks so that memory use
/// is a few megabytes whatever the tensor's size.
///
/// Input may be F32 (used in place, zero-copy), F16/BF16 (widened chunk by chunk) or, when
/// requantizing is allowed, any type QuantKit can dequantize. 3-D tensors (MoE experts) get
/// the importance weights of their own expert.
public final class TensorConverter {
    /// Target size of one chunk of F32 input, in bytes.
    public let chunkBytes: Int
    let pool: ThreadPool
    let threads: Int?
    private var scratch: UnsafeMutablePointer<Float>
    private var scratchCount: Int
    private var output: UnsafeMutableRawPointer
    private var outputCount: Int

    public init(chunkBytes: Int = 16 << 20, pool: ThreadPool = .shared, threads: Int? = nil) {
        self.chunkBytes = chunkBytes
        self.pool = pool
        self.threads = threads
        scratchCount = 0
        scratch = .allocate(capacity: 1)
        outputCount = 0
        output = .allocate(byteCount: 1, alignment: 64)
    }

    deinit {
        scratch.deallocate()
        output.deallocate()
    }

    private func reserve(floats: Int, bytes: Int) {
        if floats > scratchCount {
            scratch.deallocate()
            scratch = .allocate(capacity: floats)
            scratchCount = floats
        }
        if bytes > outputCount {
            output.deallocate()
            output = .allocate(byteCount: bytes, alignment: 64)
            outputCount = bytes
        }
    }

    /// Streams `data` (a tensor of `inType` with `shape`, innermost first) converted to `outType`
    /// into `sink`, chunk by chunk, in order. `importance` holds one weight per column, or one
    /// row of weights per expert for 3-D tensors. `codec`, when given, encodes the rows instead of
    /// ggml's quantizer (another method, same type). `transform`, when given, changes the F32
    /// rows in place before they are encoded (rows, index of the first, count, row length), so
    /// even a tensor that keeps its type is re-encoded. `progress` is called with the rows done.
    public func convert(_ data: UnsafeRawBufferPointer, inType: GGMLType, shape: [Int], to outType: GGMLType,
                        importance: [Float]? = nil, codec: RowCodec? = nil,
                        transform: ((UnsafeMutablePointer<Float>, Int, Int, Int) -> Void)? = nil,
                        sink: (UnsafeRawBufferPointer) throws -> Void,
                        progress: ((Int) -> Void)? = nil) throws {
        let n = shape.first ?? 1
        let rows = shape.dropFirst().reduce(1, *)
        let rowsPerMatrix = shape.count > 1 ? shape[1] : 1
        guard n % outType.blockSize == 0 else {
            throw QuantKitError("row length \(n) is not a multiple of \(outType.name)'s block size \(outType.blockSize)")
        }
        if let importance, importance.count != n, importance.count != n * (rows / max(rowsPerMatrix, 1)) {
            throw QuantKitError("importance matrix has \(importance.count) values, expected \(n) (one per column)")
        }
        guard let base = data.baseAddress, rows > 0, n > 0 else { return }
        let inRow = inType.rowSize(n)
        let outRow = outType.rowSize(n)
        // Same type: a plain copy.
        if inType == outType, transform == nil {
            let per = max(1, chunkBytes / max(inRow, 1))
            var r = 0
            while r < rows {
                let m = min(per, rows - r)
                try sink(UnsafeRawBufferPointer(start: base + r * inRow, count: m * inRow))
                r += m
                progress?(r)
            }
            return
        }
        guard inType == .f32 || QuantCodec.codec(inType) != nil else {
            throw QuantKitError("cannot read \(inType.name) data (no dequantizer)")
        }
        let perChunk = max(1, min(rowsPerMatrix, chunkBytes / (4 * n)))
        reserve(floats: inType == .f32 && transform == nil ? 0 : perChunk * n, bytes: perChunk * outRow)
        var r = 0
        while r < rows {
            // Chunks never cross a matrix (expert) boundary, so one importance row applies.
            let matrix = r / rowsPerMatrix
            let m = min(perChunk, (matrix + 1) * rowsPerMatrix - r)
            let src: UnsafePointer<Float>
            if inType == .f32, transform == nil {
                src = (base + r * inRow).assumingMemoryBound(to: Float.self)
            } else {
                if inType == .f32 {
                    scratch.update(from: (base + r * inRow).assumingMemoryBound(to: Float.self), count: m * n)
                } else {
                    try QuantCodec.dequantize(inType, src: base + r * inRow, dst: scratch, count: m * n, pool: pool, threads: threads)
                }
                transform?(scratch, r, m, n)
                src = UnsafePointer(scratch)
            }
            if let importance {
                let offset = importance.count == n ? 0 : matrix * n
                try importance.withUnsafeBufferPointer { w in
                    try QuantCodec.quantize(outType, src: src, dst: output, rows: m, n: n, importance: w.baseAddress! + offset, using: codec, pool: pool, threads: threads)
                }
            } else {
                try QuantCodec.quantize(outType, src: src, dst: output, rows: m, n: n, using: codec, pool: pool, threads: threads)
            }
            try sink(UnsafeRawBufferPointer(start: output, count: m * outRow))
            r += m
            progress?(r)
        }
    }
}
