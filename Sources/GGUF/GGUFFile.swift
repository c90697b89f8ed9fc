import QKCore

/// One tensor as described in a GGUF header.
public struct GGUFTensorInfo: Sendable, Equatable {
    /// The tensor's name, e.g. "blk.0.attn_q.weight".
    public var name: String
    /// Element type.
    public var type: GGMLType
    /// Dimensions, innermost (row length, ggml's ne[0]) first.
    public var shape: [Int]
    /// Offset of the data relative to the start of the file's data section.
    public var offset: Int

    public init(name: String, type: GGMLType, shape: [Int], offset: Int = 0) {
        self.name = name
        self.type = type
        self.shape = shape
        self.offset = offset
    }

    /// Number of elements (product of the shape).
    public var elementCount: Int { shape.reduce(1, *) }
    /// Bytes of data.
    public var byteCount: Int { type.byteCount(elements: elementCount) ?? 0 }
    /// Elements per row (ne[0]).
    public var rowLength: Int { shape.first ?? 1 }
    /// Number of rows (product of the outer dimensions).
    public var rowCount: Int { shape.dropFirst().reduce(1, *) }
}

/// A GGUF file (version 2 or 3), memory-mapped: metadata and tensor infos parsed and
/// validated up front, tensor data as zero-copy views.
public final class GGUFFile: @unchecked Sendable {
    /// The GGUF magic, "GGUF" read as a little-endian u32.
    public static let magic: UInt32 = 0x4655_4747
    /// Alignment used when `general.alignment` is absent.
    public static let defaultAlignment = 32
    /// Deepest array nesting accepted in metadata.
    static let maxNesting = 3
    /// ggml's limit on tensor dimensions.
    static let maxDimensions = 4

    public let path: String
    public let file: MappedFile
    public let version: UInt32
    /// Metadata in file order.
    public let metadata: [(key: String, value: GGUFValue)]
    /// Tensor infos in file order.
    public let tensors: [GGUFTensorInfo]
    /// Data alignment (`general.alignment`, default 32).
    public let alignment: Int
    /// Absolute file offset where the data section begins.
    public let dataOffset: Int

    private let keyIndex: [String: Int]
    private let tensorIndex: [String: Int]

    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    public init(file: MappedFile) throws {
        self.file = file
        path = file.path
        let all = try file.bytes(at: 0, count: file.count)
        var c = ByteCursor(all, path: path)
        guard file.count >= 4 else { throw QuantKitError("not a GGUF file: only \(file.count) bytes", path: path) }
        let magic = try c.read(UInt32.self, "magic")
        guard magic == Self.magic else {
            throw QuantKitError("not a GGUF file: bad magic 0x\(String(magic, radix: 16))", path: path)
        }
        version = try c.read(UInt32.self, "version")
        guard version == 2 || version == 3 else {
            throw QuantKitError("unsupported GGUF version \(version) (2 and 3 are supported)", path: path)
        }
        let tensorCount = try c.read(UInt64.self, "tensor count")
        let kvCount = try c.read(UInt64.self, "metadata count")
        // Each entry takes at least 8+4+1 bytes (kv) or 8+4+4+8 bytes (tensor): refuse counts the
        // file cannot possibly hold before reserving anything.
        guard kvCount <= UInt64(c.remaining / 13) else {
            throw QuantKitError("metadata count \(kvCount) is larger than the file can hold", path: path)
        }
        guard tensorCount <= UInt64(c.remaining / 24) else {
            throw QuantKitError("tensor count \(tensorCount) is larger than the file can hold", path: path)
        }

        var md: [(key: String, value: GGUFValue)] = []
        md.reserveCapacity(Int(kvCount))
        var keys: [String: Int] = [:]
        for i in 0 ..< Int(kvCount) {
            let key = try c.readString("metadata key #\(i)")
            let rawType = try c.read(UInt32.self, "type of '\(key)'")
            guard let t = GGUFValueType(rawValue: rawType) else {
                throw QuantKitError("metadata '\(key)': unknown value type \(rawType)", path: path)
            }
            let v = try Self.readValue(&c, type: t, key: key, depth: 0)
            guard keys[key] == nil else { throw QuantKitError("duplicate metadata key '\(key)'", path: path) }
            keys[key] = md.count
            md.append((key, v))
        }
        metadata = md
        keyIndex = keys

        var align = Self.defaultAlignment
        if let a = keys["general.alignment"].map({ md[$0].value }) {
            guard case .uint32(let v) = a, v > 0, v & (v - 1) == 0, v <= 1 << 20 else {
                throw QuantKitError("general.alignment must be a power of two u32, got \(a)", path: path)
            }
            align = Int(v)
        }
        alignment = align

        var infos: [GGUFTensorInfo] = []
        infos.reserveCapacity(Int(tensorCount))
        var names: [String: Int] = [:]
        for i in 0 ..< Int(tensorCount) {
            let name = try c.readString("tensor name #\(i)")
            let nd = try c.read(UInt32.self, "dimension count of '\(name)'")
            guard nd >= 1, nd <= UInt32(Self.maxDimensions) else {
                throw QuantKitError("tensor '\(name)': \(nd) dimensions (1...\(Self.maxDimensions) allowed)", path: path)
            }
            var shape: [Int] = []
            var elements = 1
            for d in 0 ..< Int(nd) {
                let v = try c.read(UInt64.self, "dimension \(d) of '\(name)'")
                guard v <= UInt64(Int64.max) else {
                    throw QuantKitError("tensor '\(name)': dimension \(d) = \(v) is too large", path: path)
                }
                let (p, o) = elements.multipliedReportingOverflow(by: Int(v))
                guard !o else { throw QuantKitError("tensor '\(name)': element count overflows", path: path) }
                elements = p
                shape.append(Int(v))
            }
            let rawType = try c.read(UInt32.self, "type of '\(name)'")
            guard let type = GGMLType(rawValue: rawType) else {
                throw QuantKitError("tensor '\(name)': unknown ggml type id \(rawType)", path: path)
            }
            guard shape[0] % type.blockSize == 0 else {
                throw QuantKitError("tensor '\(name)': row length \(shape[0]) is not a multiple of \(type.name)'s block size \(type.blockSize)", path: path)
            }
            guard type.byteCount(elements: elements) != nil else {
                throw QuantKitError("tensor '\(name)': byte size overflows", path: path)
            }
            let off = try c.read(UInt64.self, "offset of '\(name)'")
            guard off <= UInt64(Int.max) else {
                throw QuantKitError("tensor '\(name)': offset \(off) is too large", path: path)
            }
            guard Int(off) % align == 0 else {
                throw QuantKitError("tensor '\(name)': offset \(off) is not a multiple of the alignment \(align)", path: path)
            }
            guard names[name] == nil else { throw QuantKitError("duplicate tensor name '\(name)'", path: path) }
            names[name] = infos.count
            infos.append(GGUFTensorInfo(name: name, type: type, shape: shape, offset: Int(off)))
        }
        tensors = infos
        tensorIndex = names

        let start = (c.offset + align - 1) / align * align
        dataOffset = start
        if !infos.isEmpty && start > file.count {
            throw QuantKitError("truncated: data section would start at \(start), past the end of the file (\(file.count) bytes)", path: path)
        }
        let dataSize = file.count - min(start, file.count)
        // Every tensor must lie inside the data section, and no two may overlap.
        for t in infos where t.offset > dataSize || t.byteCount > dataSize - t.offset {
            throw QuantKitError("tensor '\(t.name)': data (\(t.offset)..<\(t.offset + t.byteCount)) lies outside the file's data section (\(dataSize) bytes)", path: path)
        }
        let byOffset = infos.filter { $0.byteCount > 0 }.sorted { $0.offset < $1.offset }
        for (a, b) in zip(byOffset, byOffset.dropFirst()) where a.offset + a.byteCount > b.offset {
            throw QuantKitError("tensors '\(a.name)' and '\(b.name)' overlap", path: path)
        }
    }

    private static func readValue(_ c: inout ByteCursor, type: GGUFValueType, key: String, depth: Int) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try c.read(UInt8.self, key))
        case .int8: return .int8(try c.read(Int8.self, key))
        case .uint16: return .uint16(try c.read(UInt16.self, key))
        case .int16: return .int16(try c.read(Int16.self, key))
        case .uint32: return .uint32(try c.read(UInt32.self, key))
        case .int32: return .int32(try c.read(Int32.self, key))
        case .uint64: return .uint64(try c.read(UInt64.self, key))
        case .int64: return .int64(try c.read(Int64.self, key))
        case .float32: return .float32(Float(bitPattern: try c.read(UInt32.self, key)))
        case .float64: return .float64(Double(bitPattern: try c.read(UInt64.self, key)))
        case .bool:
            let b = try c.read(UInt8.self, key)
            guard b <= 1 else { throw c.fail("metadata '\(key)': bool byte \(b) is neither 0 nor 1") }
            return .bool(b == 1)
        case .string: return .string(try c.readString("metadata '\(key)'"))
        case .array:
            guard depth < maxNesting else { throw c.fail("metadata '\(key)': arrays nested deeper than \(maxNesting)") }
            let rawType = try c.read(UInt32.self, key)
            guard let et = GGUFValueType(rawValue: rawType) else {
                throw c.fail("metadata '\(key)': unknown array element type \(rawType)")
            }
            let n = try c.read(UInt64.self, key)
            // Smallest possible encoding of one element bounds what the file can hold.
            let minSize = UInt64(et.fixedSize ?? (et == .string ? 8 : 12))
            guard n <= UInt64(c.remaining) / minSize else {
                throw c.fail("metadata '\(key)': array of \(n) elements is larger than the rest of the file")
            }
            var items: [GGUFValue] = []
            items.reserveCapacity(Int(n))
            for _ in 0 ..< Int(n) { items.append(try readValue(&c, type: et, key: key, depth: depth + 1)) }
            return .array(et, items)
        }
    }

    /// The metadata value for `key`, if present.
    public subscript(key: String) -> GGUFValue? {
        keyIndex[key].map { metadata[$0].value }
    }

    /// The tensor info named `name`, if present.
    public func tensor(named name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// The raw bytes of a tensor (zero-copy view into the mapping).
    public func data(of tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        // Bounds were validated in init.
        try! file.bytes(at: dataOffset + tensor.offset, count: tensor.byteCount)
    }

    /// The architecture (`general.architecture`), if present.
    public var architecture: String? { self["general.architecture"]?.string }
}
