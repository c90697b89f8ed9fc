/// A ggml tensor element type, as stored in GGUF tensor infos.
///
/// The raw value is ggml's type id; `blockSize` elements are stored in `typeSize` bytes.
/// Every id in use by ggml today is listed, including ones QuantKit cannot compute on yet,
/// so that any current GGUF can at least be read and inspected.
public enum GGMLType: UInt32, CaseIterable, Sendable, Codable {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3
    case q5_0 = 6, q5_1 = 7, q8_0 = 8, q8_1 = 9
    case q2_K = 10, q3_K = 11, q4_K = 12, q5_K = 13, q6_K = 14, q8_K = 15
    case iq2_xxs = 16, iq2_xs = 17, iq3_xxs = 18, iq1_s = 19, iq4_nl = 20
    case iq3_s = 21, iq2_s = 22, iq4_xs = 23
    case i8 = 24, i16 = 25, i32 = 26, i64 = 27, f64 = 28
    case iq1_m = 29, bf16 = 30
    case tq1_0 = 34, tq2_0 = 35
    case mxfp4 = 39, nvfp4 = 40, q1_0 = 41, q2_0 = 42

    /// Layout facts of one type: (name, elements per block, bytes per block).
    private static let layout: [GGMLType: (String, Int, Int)] = [
        .f32: ("F32", 1, 4), .f16: ("F16", 1, 2), .bf16: ("BF16", 1, 2), .f64: ("F64", 1, 8),
        .i8: ("I8", 1, 1), .i16: ("I16", 1, 2), .i32: ("I32", 1, 4), .i64: ("I64", 1, 8),
        .q4_0: ("Q4_0", 32, 18), .q4_1: ("Q4_1", 32, 20),
        .q5_0: ("Q5_0", 32, 22), .q5_1: ("Q5_1", 32, 24),
        .q8_0: ("Q8_0", 32, 34), .q8_1: ("Q8_1", 32, 36),
        .q2_K: ("Q2_K", 256, 84), .q3_K: ("Q3_K", 256, 110), .q4_K: ("Q4_K", 256, 144),
        .q5_K: ("Q5_K", 256, 176), .q6_K: ("Q6_K", 256, 210), .q8_K: ("Q8_K", 256, 292),
        .iq2_xxs: ("IQ2_XXS", 256, 66), .iq2_xs: ("IQ2_XS", 256, 74), .iq2_s: ("IQ2_S", 256, 82),
        .iq3_xxs: ("IQ3_XXS", 256, 98), .iq3_s: ("IQ3_S", 256, 110),
        .iq1_s: ("IQ1_S", 256, 50), .iq1_m: ("IQ1_M", 256, 56),
        .iq4_nl: ("IQ4_NL", 32, 18), .iq4_xs: ("IQ4_XS", 256, 136),
        .tq1_0: ("TQ1_0", 256, 54), .tq2_0: ("TQ2_0", 256, 66),
        .mxfp4: ("MXFP4", 32, 17), .nvfp4: ("NVFP4", 64, 36),
        .q1_0: ("Q1_0", 128, 18), .q2_0: ("Q2_0", 64, 18),
    ]

    /// ggml's upper-case name, e.g. "Q4_K".
    public var name: String { Self.layout[self]!.0 }
    /// Elements per block (1 for plain scalar types).
    public var blockSize: Int { Self.layout[self]!.1 }
    /// Bytes per block.
    public var typeSize: Int { Self.layout[self]!.2 }
    /// True for block-quantized types (everything but plain floats and integers).
    public var isQuantized: Bool { blockSize > 1 }
    /// True for the floating-point scalar types a quantizer can take as input.
    public var isFloat: Bool { self == .f32 || self == .f16 || self == .bf16 }

    /// Bytes needed for `elements` values; nil when `elements` is not a whole number of blocks
    /// or the size overflows.
    public func byteCount(elements: Int) -> Int? {
        guard elements >= 0, elements % blockSize == 0 else { return nil }
        let (r, o) = (elements / blockSize).multipliedReportingOverflow(by: typeSize)
        return o ? nil : r
    }

    /// Bytes of one row of `n` elements (n must be a multiple of `blockSize`).
    public func rowSize(_ n: Int) -> Int { n / blockSize * typeSize }

    /// Looks a type up by ggml name, case-insensitively ("q4_k", "IQ2_XXS", "bf16").
    public init?(name: String) {
        let u = name.uppercased()
        guard let t = GGMLType.allCases.first(where: { $0.name == u }) else { return nil }
        self = t
    }
}

extension GGMLType: CustomStringConvertible {
    public var description: String { name }
}
