import QKCore

/// The element type of a safetensors tensor, spelled as in the file's `"dtype"` field.
///
/// Covers every byte-aligned type the reference `safetensors` library defines. The
/// sub-byte types (F4, F6_*) and complex types are not accepted: their element counts do not
/// map to whole bytes the same way, and no checkpoint QuantKit targets uses them.
public enum SafeTensorsDType: String, CaseIterable, Sendable, Hashable {
    case bool = "BOOL"
    case u8 = "U8", i8 = "I8"
    case f8E5M2 = "F8_E5M2", f8E4M3 = "F8_E4M3", f8E8M0 = "F8_E8M0"
    case i16 = "I16", u16 = "U16", f16 = "F16", bf16 = "BF16"
    case i32 = "I32", u32 = "U32", f32 = "F32"
    case f64 = "F64", i64 = "I64", u64 = "U64"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .bool, .u8, .i8, .f8E5M2, .f8E4M3, .f8E8M0: return 1
        case .i16, .u16, .f16, .bf16: return 2
        case .i32, .u32, .f32: return 4
        case .f64, .i64, .u64: return 8
        }
    }

    /// True for the floating-point types (including the 8-bit float formats).
    public var isFloat: Bool {
        switch self {
        case .f8E5M2, .f8E4M3, .f8E8M0, .f16, .bf16, .f32, .f64: return true
        default: return false
        }
    }

    /// The ggml type with the same element layout, if there is one (F32, F16, BF16, F64 and
    /// the signed integers); used when a tensor is carried into a GGUF unchanged.
    public var ggmlType: GGMLType? {
        switch self {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        case .f64: return .f64
        case .i8: return .i8
        case .i16: return .i16
        case .i32: return .i32
        case .i64: return .i64
        default: return nil
        }
    }

    /// Rank in the reference library's dtype ordering (its `Dtype` enum is declared in
    /// increasing alignment). The reference writer lays tensors out by descending rank, then
    /// by name; `SafeTensorSpec.referenceOrder` uses this to reproduce its files exactly.
    public var referenceRank: Int {
        switch self {
        case .bool: return 0
        case .u8: return 1
        case .i8: return 2
        case .f8E5M2: return 3
        case .f8E4M3: return 4
        case .f8E8M0: return 5
        case .i16: return 6
        case .u16: return 7
        case .f16: return 8
        case .bf16: return 9
        case .i32: return 10
        case .u32: return 11
        case .f32: return 12
        case .f64: return 13
        case .i64: return 14
        case .u64: return 15
        }
    }

    /// Looks a type up by its safetensors name (exact, case-sensitive, as the format requires).
    public init?(name: String) { self.init(rawValue: name) }
}

extension SafeTensorsDType: CustomStringConvertible {
    public var description: String { rawValue }
}
