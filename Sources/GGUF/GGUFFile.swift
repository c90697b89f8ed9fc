import QKCore

/// A GGUF file (version 2 or 3), memory-mapped: metadata and tensor infos parsed and
/// validated up front, tensor data as zero-copy views.
///
/// Validation is complete before `init` returns, so later accesses cannot fail: every count
/// and length is checked against the bytes actually present before anything is allocated,
/// every tensor's data lies inside the file, is aligned and overlaps no other tensor, names
/// and keys are unique and valid UTF-8, and shapes cannot overflow. A damaged or hostile file
/// gives a `QuantKitError` naming the file and the problem, never a crash or a huge allocation.
public final class GGUFFile: @unchecked Sendable {
    /// The GGUF magic, "GGUF" read as a little-endian u32.
    public static let magic: UInt32 = 0x4655_4747
    /// Alignment used when `general.alignment` is absent (GGUF_DEFAULT_ALIGNMENT).
    public static let defaultAlignment = 32
    /// Largest `general.alignment` accepted (real files use 32; this bounds padding).
    public static let maxAlignment = 1 << 20
    /// Deepest array nesting accepted in metadata (llama.cpp reads none; gguf-py writes some).
    public static let maxNesting = 3

    /// The path the file was opened with (named in every error).
    public let path: String
    /// The mapping, for files opened from disk (nil for in-memory bytes).
    public let file: MappedFile?
    /// The whole file.
    public let bytes: UnsafeRawBufferPointer
    /// GGUF version (2 or 3; their layouts are identical).
    public let version: UInt32
    /// Metadata in file order.
    public let metadata: GGUFMetadata
    /// Tensor infos in file order.
    public let tensors: [GGUFTensorInfo]
    /// Data alignment (`general.alignment`, default 32).
    public let alignment: Int
    /// Size of magic, counts, metadata and tensor infos: where the padding before the data
    /// section begins.
    public let headerSize: Int
    /// Absolute file offset where the data section begins (`headerSize` rounded up to the
    /// alignment).
    public let dataOffset: Int
    /// True when the tensors are packed in file order, each at the previous one's end rounded
    /// up to the alignment, as llama.cpp and gguf-py write them (llama.cpp refuses other
    /// layouts). `GGUFWriter` reproduces exactly such files.
    public let isCanonicalLayout: Bool

    private let owner: AnyObject
    private let tensorIndex: [String: Int]

    /// Opens and validates the GGUF file at `path` (memory-mapped).
    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    /// Validates an already-mapped file.
    public convenience init(file: MappedFile) throws {
        let all = try file.bytes(at: 0, count: file.count)
        try self.init(bytes: all, path: file.path, owner: file, file: file)
    }

    /// Parses GGUF bytes held in memory (a header fetched over the network, test data).
    /// `name` stands for the path in error messages. The bytes are copied.
    public convenience init(bytes: [UInt8], name: String) throws {
        let owned = OwnedBytes(bytes)
        try self.init(bytes: owned.buffer, path: name, owner: owned, file: nil)
    }

    private init(bytes all: UnsafeRawBufferPointer, path: String, owner: AnyObject, file: MappedFile?) throws {
        self.path = path
        self.file = file
        self.owner = owner
        self.bytes = all
        let h = try HeaderParser.parse(all, path: path)
        version = h.version
        metadata = h.metadata
        tensors = h.tensors
        tensorIndex = h.tensorIndex
        alignment = h.alignment
        headerSize = h.headerSize
        dataOffset = h.dataOffset
        var expected = 0
        var canonical = true
        for t in h.tensors {
            if t.offset != expected { canonical = false; break }
            expected += padded(t.byteCount, h.alignment)
        }
        isCanonicalLayout = canonical
    }

    /// Size of the file in bytes.
    public var fileSize: Int { bytes.count }

    /// The metadata value for `key`, if present.
    public subscript(key: String) -> GGUFValue? { metadata[key] }

    /// The tensor info named `name`, if present.
    public func tensor(named name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// The raw bytes of a tensor of this file (zero-copy view into the mapping, valid while
    /// this object lives). `tensor` must be one of `tensors`.
    public func data(of tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        guard let i = tensorIndex[tensor.name], tensors[i] == tensor else {
            preconditionFailure("\(path): tensor '\(tensor.name)' does not belong to this file")
        }
        return data(at: i)
    }

    /// The raw bytes of the tensor at position `index` in `tensors`.
    public func data(at index: Int) -> UnsafeRawBufferPointer {
        let t = tensors[index]
        // Bounds were validated in init.
        return UnsafeRawBufferPointer(rebasing: bytes[dataOffset + t.offset ..< dataOffset + t.offset + t.byteCount])
    }

    /// The raw bytes of the tensor named `name`, if present.
    public func data(named name: String) -> UnsafeRawBufferPointer? {
        tensorIndex[name].map { data(at: $0) }
    }

    /// The architecture (`general.architecture`), if present.
    public var architecture: String? { self["general.architecture"]?.string }
}

/// Heap bytes owned by a `GGUFFile` parsed from memory.
private final class OwnedBytes {
    let buffer: UnsafeRawBufferPointer
    init(_ bytes: [UInt8]) {
        let p = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 64)
        bytes.withUnsafeBytes { p.copyMemory(from: $0) }
        buffer = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(p)[0 ..< bytes.count])
    }
    deinit { UnsafeMutableRawPointer(mutating: buffer.baseAddress)?.deallocate() }
}

/// The validating GGUF header parser behind `GGUFFile`.
enum HeaderParser {
    struct Header {
        var version: UInt32
        var metadata: GGUFMetadata
        var tensors: [GGUFTensorInfo]
        var tensorIndex: [String: Int]
        var alignment: Int
        var headerSize: Int
        var dataOffset: Int
    }

    static func parse(_ all: UnsafeRawBufferPointer, path: String) throws -> Header {
        func fail(_ m: String) -> QuantKitError { QuantKitError(m, path: path) }
        var c = ByteCursor(all, path: path)
        guard all.count >= 4 else { throw fail("not a GGUF file: truncated, only \(all.count) bytes") }
        let magic = try c.u32("magic")
        guard magic == GGUFFile.magic else {
            let shown = (0 ..< 4).map { all[$0] }.map { (32 ..< 127).contains($0) ? String(UnicodeScalar($0)) : "." }.joined()
            throw fail("not a GGUF file: bad magic 0x\(String(magic, radix: 16)) (\"\(shown)\"), expected \"GGUF\"")
        }
        let version = try c.u32("version")
        guard version == 2 || version == 3 else {
            if version & 0xFFFF == 0 { throw fail("big-endian GGUF files are not supported (version field 0x\(String(version, radix: 16)))") }
            throw fail("unsupported GGUF version \(version) (versions 2 and 3 are supported)")
        }
        let tensorCount = try c.u64("tensor count")
        let kvCount = try c.u64("metadata count")
        // A kv takes at least 8+4+1 bytes, a tensor info 8+4+4+8: refuse counts the file cannot
        // possibly hold before reserving anything.
        guard kvCount <= UInt64(c.remaining / 13) else {
            throw fail("truncated or corrupt: metadata count \(kvCount) is larger than the file can hold (\(c.remaining) bytes left)")
        }
        guard tensorCount <= UInt64(c.remaining / 24) else {
            throw fail("truncated or corrupt: tensor count \(tensorCount) is larger than the file can hold (\(c.remaining) bytes left)")
        }

        var md = GGUFMetadata()
        for i in 0 ..< Int(kvCount) {
            let keyOffset = c.offset
            let key = try c.readString("metadata key #\(i)")
            guard !key.isEmpty else { throw fail("metadata key #\(i) at offset \(keyOffset) is empty") }
            guard !md.contains(key: key) else { throw fail("duplicate metadata key '\(key)' (entry #\(i) at offset \(keyOffset))") }
            let rawType = try c.u32("type of metadata '\(key)'")
            guard let t = GGUFValueType(rawValue: rawType) else {
                throw fail("metadata '\(key)': unknown value type \(rawType) at offset \(c.offset - 4)")
            }
            md.appendUnique(key, try readValue(&c, type: t, key: key))
        }

        var align = GGUFFile.defaultAlignment
        if let a = md["general.alignment"] {
            guard case .uint32(let v) = a, v > 0, v & (v - 1) == 0, v <= GGUFFile.maxAlignment else {
                throw fail("general.alignment must be a power of two UINT32 of at most \(GGUFFile.maxAlignment), got \(a.type.name) \(describe(a))")
            }
            align = Int(v)
        }

        var infos: [GGUFTensorInfo] = []
        infos.reserveCapacity(Int(tensorCount))
        var names: [String: Int] = [:]
        names.reserveCapacity(Int(tensorCount))
        for i in 0 ..< Int(tensorCount) {
            let infoOffset = c.offset
            let name = try c.readString("name of tensor #\(i)")
            guard names[name] == nil else { throw fail("duplicate tensor name '\(name)' (tensor #\(i) at offset \(infoOffset))") }
            let nd = try c.u32("dimension count of tensor '\(name)'")
            guard nd <= UInt32(GGUFTensorInfo.maxDimensions) else {
                throw fail("tensor '\(name)': \(nd) dimensions (at most \(GGUFTensorInfo.maxDimensions) allowed)")
            }
            var shape: [Int] = []
            shape.reserveCapacity(Int(nd))
            for d in 0 ..< Int(nd) {
                let v = try c.u64("dimension \(d) of tensor '\(name)'")
                guard v <= UInt64(Int64.max) else {
                    throw fail("tensor '\(name)': dimension \(d) = \(v) is too large (negative as ggml's int64)")
                }
                shape.append(Int(v))
            }
            let rawType = try c.u32("type of tensor '\(name)'")
            guard let type = GGMLType(rawValue: rawType) else {
                throw fail("tensor '\(name)': unknown ggml type id \(rawType)")
            }
            if case .failure(let problem) = GGUFTensorInfo.checkedByteCount(type: type, shape: shape) {
                throw fail("tensor '\(name)' (\(type.name) \(shape)): \(problem)")
            }
            let off = try c.u64("data offset of tensor '\(name)'")
            guard off <= UInt64(Int.max) else {
                throw fail("tensor '\(name)': data offset \(off) lies outside the file")
            }
            guard Int(off) % align == 0 else {
                throw fail("tensor '\(name)': data offset \(off) is misaligned (not a multiple of the alignment \(align))")
            }
            names[name] = infos.count
            infos.append(GGUFTensorInfo(name: name, type: type, shape: shape, offset: Int(off)))
        }

        let headerSize = c.offset
        let start = padded(headerSize, align)
        if !infos.isEmpty && start > all.count {
            throw fail("truncated: data section would start at offset \(start), past the end of the file (\(all.count) bytes)")
        }
        let dataSize = all.count - min(start, all.count)
        // Every tensor must lie inside the data section, and no two may overlap.
        for t in infos where t.offset > dataSize || t.byteCount > dataSize - t.offset {
            throw fail("truncated or corrupt: tensor '\(t.name)' data (offset \(t.offset), \(t.byteCount) bytes) lies outside the file's data section (\(dataSize) bytes)")
        }
        var byOffset = infos.indices.filter { infos[$0].byteCount > 0 }
        var sorted = true
        for (a, b) in zip(byOffset, byOffset.dropFirst()) where infos[a].offset > infos[b].offset { sorted = false; break }
        if !sorted { byOffset.sort { infos[$0].offset < infos[$1].offset } }
        for (ia, ib) in zip(byOffset, byOffset.dropFirst()) {
            let a = infos[ia], b = infos[ib]
            if a.offset + a.byteCount > b.offset {
                throw fail("tensors '\(a.name)' and '\(b.name)' overlap (data at \(a.offset)..<\(a.offset + a.byteCount) and \(b.offset)..<\(b.offset + b.byteCount))")
            }
        }
        return Header(version: version, metadata: md, tensors: infos, tensorIndex: names,
                      alignment: align, headerSize: headerSize, dataOffset: start)
    }

    static func readValue(_ c: inout ByteCursor, type: GGUFValueType, key: String, depth: Int = 0) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try c.u8("metadata '\(key)'"))
        case .int8: return .int8(Int8(bitPattern: try c.u8("metadata '\(key)'")))
        case .uint16: return .uint16(try c.u16("metadata '\(key)'"))
        case .int16: return .int16(Int16(bitPattern: try c.u16("metadata '\(key)'")))
        case .uint32: return .uint32(try c.u32("metadata '\(key)'"))
        case .int32: return .int32(Int32(bitPattern: try c.u32("metadata '\(key)'")))
        case .uint64: return .uint64(try c.u64("metadata '\(key)'"))
        case .int64: return .int64(Int64(bitPattern: try c.u64("metadata '\(key)'")))
        case .float32: return .float32(Float(bitPattern: try c.u32("metadata '\(key)'")))
        case .float64: return .float64(Double(bitPattern: try c.u64("metadata '\(key)'")))
        case .bool:
            let b = try c.u8("metadata '\(key)'")
            guard b <= 1 else { throw c.fail("metadata '\(key)': bool byte \(b) at offset \(c.offset - 1) is neither 0 nor 1") }
            return .bool(b == 1)
        case .string: return .string(try c.readString("metadata '\(key)'"))
        case .array: return .array(try readArray(&c, key: key, depth: depth + 1))
        }
    }

    static func readArray(_ c: inout ByteCursor, key: String, depth: Int) throws -> GGUFArray {
        guard depth <= GGUFFile.maxNesting else {
            throw c.fail("metadata '\(key)': arrays nested more than \(GGUFFile.maxNesting) deep at offset \(c.offset)")
        }
        let rawType = try c.u32("element type of metadata '\(key)'")
        guard let et = GGUFValueType(rawValue: rawType) else {
            throw c.fail("metadata '\(key)': unknown array element type \(rawType) at offset \(c.offset - 4)")
        }
        let n64 = try c.u64("element count of metadata '\(key)'")
        // The smallest possible encoding of one element bounds what the file can hold.
        guard n64 <= UInt64(c.remaining / et.minimumEncodedSize) else {
            throw c.fail("truncated: metadata '\(key)' claims an array of \(n64) \(et.name) elements, more than the \(c.remaining) bytes left can hold")
        }
        let n = Int(n64)
        let what = "metadata '\(key)'"
        switch et {
        case .uint8: return .uint8(try c.readArray(UInt8.self, count: n, what))
        case .int8: return .int8(try c.readArray(Int8.self, count: n, what))
        case .uint16: return .uint16(try c.readArray(UInt16.self, count: n, what))
        case .int16: return .int16(try c.readArray(Int16.self, count: n, what))
        case .uint32: return .uint32(try c.readArray(UInt32.self, count: n, what))
        case .int32: return .int32(try c.readArray(Int32.self, count: n, what))
        case .uint64: return .uint64(try c.readArray(UInt64.self, count: n, what))
        case .int64: return .int64(try c.readArray(Int64.self, count: n, what))
        case .float32: return .float32(try c.readArray(Float.self, count: n, what))
        case .float64: return .float64(try c.readArray(Double.self, count: n, what))
        case .bool:
            try c.need(n, what)
            for j in 0 ..< n where c.bytes[c.offset + j] > 1 {
                throw c.fail("metadata '\(key)': bool array element \(j) is \(c.bytes[c.offset + j]), neither 0 nor 1")
            }
            // Bytes 0 and 1 are exactly Swift's Bool representations.
            return .bool(try c.readArray(Bool.self, count: n, what))
        case .string:
            var items: [String] = []
            items.reserveCapacity(n)
            for _ in 0 ..< n { items.append(try c.readString(what)) }
            return .string(items)
        case .array:
            var items: [GGUFArray] = []
            items.reserveCapacity(n)
            for _ in 0 ..< n { items.append(try readArray(&c, key: key, depth: depth + 1)) }
            return .array(items)
        }
    }

    static func describe(_ v: GGUFValue) -> String {
        switch v {
        case .string(let s): "\"\(s.prefix(40))\""
        case .array(let a): "array of \(a.count) \(a.elementType.name)"
        default: v.double.map { "\($0)" } ?? "\(v)"
        }
    }
}
