import QKCore

/// One tensor as described in a GGUF header: name, element type, shape and where its data is.
public struct GGUFTensorInfo: Sendable, Equatable {
    /// The tensor's name, e.g. "blk.0.attn_q.weight".
    public var name: String
    /// Element type.
    public var type: GGMLType
    /// Dimensions, innermost (row length, ggml's ne[0]) first, exactly as many as the file
    /// stores (so a rewritten header is byte-identical).
    public var shape: [Int]
    /// Offset of the data relative to the start of the file's data section.
    public var offset: Int

    public init(name: String, type: GGMLType, shape: [Int], offset: Int = 0) {
        self.name = name
        self.type = type
        self.shape = shape
        self.offset = offset
    }

    /// Number of elements (product of the shape; 1 for a 0-dimensional tensor).
    /// Infos read from a file or accepted by the writer never overflow here.
    public var elementCount: Int { shape.reduce(1, *) }
    /// Bytes of data.
    public var byteCount: Int { type.byteCount(elements: elementCount) ?? 0 }
    /// Elements per row (ne[0]).
    public var rowLength: Int { shape.first ?? 1 }
    /// Number of rows (product of the outer dimensions).
    public var rowCount: Int { shape.dropFirst().reduce(1, *) }

    /// ggml's limit on tensor dimensions.
    public static let maxDimensions = 4
    /// ggml's limit on name length (GGML_MAX_NAME includes the terminating NUL): llama.cpp
    /// refuses files with longer tensor names.
    public static let maxNameBytes = 63

    /// Checks the shape and type (at most 4 non-negative dimensions, rows a whole number of
    /// blocks, element and byte counts representable) and returns the byte count, or a
    /// description of the problem. Never traps, whatever the numbers.
    public static func checkedByteCount(type: GGMLType, shape: [Int]) -> Result<Int, ShapeProblem> {
        guard shape.count <= maxDimensions else { return .failure(.tooManyDimensions(shape.count)) }
        var elements = 1
        for (d, v) in shape.enumerated() {
            guard v >= 0 else { return .failure(.negativeDimension(d, v)) }
            let (p, o) = elements.multipliedReportingOverflow(by: v)
            guard !o else { return .failure(.elementCountOverflows) }
            elements = p
        }
        let row = shape.first ?? 1
        guard row % type.blockSize == 0 else { return .failure(.rowNotWholeBlocks(row: row, block: type.blockSize)) }
        guard let bytes = type.byteCount(elements: elements) else { return .failure(.byteCountOverflows) }
        return .success(bytes)
    }

    /// Why a shape cannot be stored (see `checkedByteCount`).
    public enum ShapeProblem: Error, Sendable, Equatable, CustomStringConvertible {
        case tooManyDimensions(Int)
        case negativeDimension(Int, Int)
        case elementCountOverflows
        case rowNotWholeBlocks(row: Int, block: Int)
        case byteCountOverflows

        public var description: String {
            switch self {
            case .tooManyDimensions(let n): "\(n) dimensions (at most \(GGUFTensorInfo.maxDimensions) allowed)"
            case .negativeDimension(let d, let v): "dimension \(d) is negative (\(v))"
            case .elementCountOverflows: "the product of the dimensions overflows"
            case .rowNotWholeBlocks(let row, let block): "row length \(row) is not a multiple of the type's block size \(block)"
            case .byteCountOverflows: "the size in bytes overflows"
            }
        }
    }
}

/// Rounds `n` up to a multiple of `alignment` (a power of two), as ggml's GGML_PAD does.
@inline(__always) func padded(_ n: Int, _ alignment: Int) -> Int {
    (n + alignment - 1) & ~(alignment - 1)
}
