import QKCore

/// The row-level quantize/dequantize functions of one ggml type.
///
/// `quantize` converts one row of `n` floats (n a multiple of the block size) into
/// `type.rowSize(n)` bytes, exactly as ggml's `ggml_quantize_chunk` would; `importance`
/// holds one weight per column (an imatrix row) or is nil. `dequantize` is the inverse
/// ggml uses when reading.
public struct RowCodec: Sendable {
    public typealias Quantize = @Sendable (_ src: UnsafePointer<Float>, _ dst: UnsafeMutableRawPointer, _ n: Int, _ importance: UnsafePointer<Float>?) -> Void
    public typealias Dequantize = @Sendable (_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ n: Int) -> Void

    public let quantize: Quantize
    public let dequantize: Dequantize
    /// True when ggml refuses to quantize this type without importance weights.
    public let requiresImportance: Bool

    public init(quantize: @escaping Quantize, dequantize: @escaping Dequantize, requiresImportance: Bool = false) {
        self.quantize = quantize
        self.dequantize = dequantize
        self.requiresImportance = requiresImportance
    }
}

/// Quantization and dequantization of every supported ggml type, bit-exact with ggml.
///
/// Each type's plain reference implementation lives in `Reference/<Type>.swift` and is the
/// specification; this table is the single place that maps types to them.
public enum QuantCodec {
    /// The codec of every type QuantKit can quantize to and dequantize from.
    static let table: [GGMLType: RowCodec] = [
        .f32: Plain.f32Codec,
        .f16: Plain.f16Codec,
        .bf16: Plain.bf16Codec,
        .q8_0: Q8_0.codec,
        .q4_0: Q4_0.codec,
        .q4_1: Q4_1.codec,
        .q5_0: Q5_0.codec,
        .q5_1: Q5_1.codec,
        .q2_K: Q2_K.codec,
        .q3_K: Q3_K.codec,
        .q4_K: Q4_K.codec,
        .q5_K: Q5_K.codec,
        .q6_K: Q6_K.codec,
        .iq4_nl: IQ4_NL.codec,
        .iq4_xs: IQ4_XS.codec,
        .tq1_0: TQ1_0.codec,
        .tq2_0: TQ2_0.codec,
        .mxfp4: MXFP4.codec,
        .iq2_xxs: IQ2_XXS.codec,
        .iq2_xs: IQ2_XS.codec,
        .iq2_s: IQ2_S.codec,
        .iq3_xxs: IQ3_XXS.codec,
        .iq3_s: IQ3_S.codec,
        .iq1_s: IQ1_S.codec,
        .iq1_m: IQ1_M.codec,
    ]

    /// The codec for `type`, or nil when QuantKit cannot compute on it yet.
    public static func codec(_ type: GGMLType) -> RowCodec? { table[type] }

    /// Types QuantKit can quantize to.
    public static var supportedTypes: [GGMLType] { GGMLType.allCases.filter { table[$0] != nil } }

    /// Whether `type` can be quantized without importance weights.
    public static func requiresImportance(_ type: GGMLType) -> Bool { table[type]?.requiresImportance ?? false }

    /// Quantizes `rows` rows of `n` floats each from `src` into `dst` (rows × `type.rowSize(n)`
    /// bytes), spreading rows over the shared thread pool. `codec` replaces ggml's quantizer
    /// by another encoder of the same type (a better method, same format).
    public static func quantize(_ type: GGMLType, src: UnsafePointer<Float>, dst: UnsafeMutableRawPointer,
                                rows: Int, n: Int, importance: UnsafePointer<Float>? = nil, using codec: RowCodec? = nil,
                                pool: ThreadPool = .shared, threads: Int? = nil) throws {
        guard let c = codec ?? table[type] else { throw QuantKitError("quantizing to \(type.name) is not supported") }
        guard n % type.blockSize == 0 else {
            throw QuantKitError("row length \(n) is not a multiple of \(type.name)'s block size \(type.blockSize)")
        }
        if c.requiresImportance && importance == nil {
            throw QuantKitError("\(type.name) needs an importance matrix (--imatrix)")
        }
        let rowBytes = type.rowSize(n)
        let rowsPerChunk = max(1, (1 << 16) / max(n, 1))
        let chunks = (rows + rowsPerChunk - 1) / rowsPerChunk
        pool.parallelFor(chunks, threads: threads) { ch in
            let r0 = ch * rowsPerChunk
            for r in r0 ..< min(rows, r0 + rowsPerChunk) {
                c.quantize(src + r * n, dst + r * rowBytes, n, importance)
            }
        }
    }

    /// Dequantizes `count` elements (a whole number of blocks) of `type` into floats.
    public static func dequantize(_ type: GGMLType, src: UnsafeRawPointer, dst: UnsafeMutablePointer<Float>,
                                  count: Int, pool: ThreadPool = .shared, threads: Int? = nil) throws {
        guard let c = table[type] else { throw QuantKitError("dequantizing \(type.name) is not supported") }
        guard count % type.blockSize == 0 else {
            throw QuantKitError("\(count) elements is not a whole number of \(type.name) blocks")
        }
        let perChunk = max(type.blockSize, (1 << 16) / type.blockSize * type.blockSize)
        let chunks = (count + perChunk - 1) / perChunk
        pool.parallelFor(chunks, threads: threads) { ch in
            let e0 = ch * perChunk
            let m = min(count - e0, perChunk)
            c.dequantize(src + e0 / type.blockSize * type.typeSize, dst + e0, m)
        }
    }
}
