import QKCore

/// The `__metadata__` of a safetensors header: string keys to string values, in file order.
public typealias SafeTensorsMetadata = [(key: String, value: String)]

/// One tensor of a safetensors file, as described by its header.
public struct SafeTensorInfo: Sendable, Hashable {
    /// The tensor's name (the header key), e.g. "encoder.layer.0.attention.self.query.weight".
    public let name: String
    public let dtype: SafeTensorsDType
    /// Dimensions, outermost first (row-major, as in PyTorch/NumPy). Empty for a scalar.
    public let shape: [Int]
    /// Product of `shape` (1 for a scalar).
    public let elementCount: Int
    /// The header's `data_offsets`: byte range relative to the start of the data area.
    public let dataOffsets: Range<Int>
    /// Absolute offset of the first byte in the file.
    public let fileOffset: Int
    /// Bytes of data (`elementCount * dtype.byteSize`).
    public var byteCount: Int { dataOffsets.count }
}

/// A safetensors file, memory-mapped and validated.
///
/// Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON (an object mapping
/// tensor names to `{"dtype", "shape", "data_offsets"}` plus an optional `__metadata__`
/// string map), then the data area. The file is treated as hostile: every length and offset
/// is checked (header length against the file and a 100 MB cap, shapes with overflow checks,
/// each tensor's range against the data area, its size against shape × dtype, and tensors
/// against each other for overlap) before anything is used, and every problem is reported as
/// a `QuantKitError` naming the file. Nothing is allocated from an unchecked length.
///
/// Tensor data is never copied: `data(_:)` returns views into the mapping, valid as long as
/// this object is alive.
public final class SafeTensorsFile: @unchecked Sendable {
    /// Largest header accepted, the same cap as the reference library (100 MB).
    public static let maxHeaderSize = 100_000_000

    /// The path the file was opened with.
    public var path: String { file.path }
    /// The mapped file.
    public let file: MappedFile
    /// The header's length N in bytes (excluding the 8-byte length field, including padding).
    public let headerSize: Int
    /// Absolute offset of the data area (8 + N).
    public var dataStart: Int { 8 + headerSize }
    /// Size of the data area (file size − 8 − N).
    public var dataSize: Int { file.count - dataStart }
    /// `__metadata__` in file order; nil when the header has none.
    public let metadata: SafeTensorsMetadata?
    /// All tensors, ordered by position in the data area (ties keep header order).
    public let tensors: [SafeTensorInfo]
    /// Tensor names in the order the header lists them.
    public let headerOrder: [String]
    private let byName: [String: Int]

    /// Maps and validates the file at `path`.
    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    /// Validates an already-mapped file.
    public init(file: MappedFile) throws {
        self.file = file
        let path = file.path
        func fail(_ message: String) -> QuantKitError { QuantKitError(message, path: path) }

        guard file.count >= 8 else {
            throw fail("not a safetensors file: \(file.count) bytes is too small for the 8-byte header length")
        }
        let lengthBytes = try file.bytes(at: 0, count: 8)
        let rawLength = lengthBytes.loadUnaligned(as: UInt64.self).littleEndian
        guard rawLength <= UInt64(Self.maxHeaderSize) else {
            throw fail("header length \(rawLength) exceeds the \(Self.maxHeaderSize)-byte limit (corrupt or not a safetensors file)")
        }
        let n = Int(rawLength)
        guard n <= file.count - 8 else {
            throw fail("header length \(n) runs past the end of the file (\(file.count) bytes; truncated or not a safetensors file)")
        }
        guard n >= 2 else { throw fail("header length \(n) is too small for a JSON object") }
        headerSize = n
        let headerBytes = try file.bytes(at: 8, count: n)
        guard headerBytes[0] == UInt8(ascii: "{") else {
            throw fail("header does not start with '{' (not a safetensors file)")
        }
        let json = try JSONParser.parse(headerBytes, path: path, what: "header")
        guard case .object(let members) = json else { throw fail("header is not a JSON object") }

        let dataSize = file.count - 8 - n
        var metadata: SafeTensorsMetadata? = nil
        var list: [SafeTensorInfo] = []
        list.reserveCapacity(members.count)
        var names: [String] = []
        names.reserveCapacity(members.count)

        for (key, value) in members {
            if key == "__metadata__" {
                guard case .object(let pairs) = value else {
                    throw fail("__metadata__ must be an object of strings, found \(value.kindName)")
                }
                var m: SafeTensorsMetadata = []
                for (k, v) in pairs {
                    guard case .string(let s) = v else {
                        throw fail("__metadata__ value of \"\(JSONParser.printable(k))\" must be a string, found \(v.kindName)")
                    }
                    m.append((k, s))
                }
                metadata = m
                continue
            }
            let info = try Self.tensorInfo(name: key, value, dataStart: 8 + n, dataSize: dataSize, path: path)
            list.append(info)
            names.append(key)
        }

        // File-offset order; stable so empty tensors sharing an offset keep header order.
        let order = list.indices.sorted {
            (list[$0].dataOffsets.lowerBound, list[$0].dataOffsets.upperBound, $0)
                < (list[$1].dataOffsets.lowerBound, list[$1].dataOffsets.upperBound, $1)
        }
        var sorted: [SafeTensorInfo] = []
        sorted.reserveCapacity(list.count)
        var previous: SafeTensorInfo? = nil
        for i in order {
            let t = list[i]
            if t.byteCount > 0 {
                if let p = previous, t.dataOffsets.lowerBound < p.dataOffsets.upperBound {
                    throw fail("tensors '\(JSONParser.printable(p.name))' (bytes \(p.dataOffsets)) and '\(JSONParser.printable(t.name))' (bytes \(t.dataOffsets)) overlap")
                }
                previous = t
            }
            sorted.append(t)
        }
        var byName: [String: Int] = [:]
        byName.reserveCapacity(sorted.count)
        for (i, t) in sorted.enumerated() { byName[t.name] = i }

        self.metadata = metadata
        self.tensors = sorted
        self.headerOrder = names
        self.byName = byName
    }

    /// Validates one header entry (everything but overlap, which needs all tensors).
    private static func tensorInfo(name: String, _ value: JSONValue, dataStart: Int, dataSize: Int, path: String) throws -> SafeTensorInfo {
        func fail(_ message: String) -> QuantKitError {
            QuantKitError("tensor '\(JSONParser.printable(name))': \(message)", path: path)
        }
        guard case .object = value else { throw fail("entry must be an object, found \(value.kindName)") }

        guard let dtypeValue = value["dtype"] else { throw fail("missing \"dtype\"") }
        guard case .string(let dtypeName) = dtypeValue else { throw fail("\"dtype\" must be a string, found \(dtypeValue.kindName)") }
        guard let dtype = SafeTensorsDType(name: dtypeName) else {
            throw fail("unknown dtype \"\(JSONParser.printable(dtypeName))\"")
        }

        guard let shapeValue = value["shape"] else { throw fail("missing \"shape\"") }
        guard case .array(let dims) = shapeValue else { throw fail("\"shape\" must be an array, found \(shapeValue.kindName)") }
        var shape: [Int] = []
        shape.reserveCapacity(dims.count)
        var elements = 1
        var overflow = false
        for d in dims {
            let v = try nonNegativeInt(d, "dimension in \"shape\"", fail)
            shape.append(v)
            let (p, o) = elements.multipliedReportingOverflow(by: v)
            elements = p
            overflow = overflow || o
        }
        // A zero dimension makes the product 0 whatever came before, as numpy computes it.
        if shape.contains(0) { elements = 0; overflow = false }
        let (bytes, o2) = elements.multipliedReportingOverflow(by: dtype.byteSize)
        if overflow || o2 { throw fail("shape \(shape) of \(dtype) is too large (size overflows)") }

        guard let offsetsValue = value["data_offsets"] else { throw fail("missing \"data_offsets\"") }
        guard case .array(let offs) = offsetsValue, offs.count == 2 else {
            throw fail("\"data_offsets\" must be an array of two integers")
        }
        let begin = try nonNegativeInt(offs[0], "start in \"data_offsets\"", fail)
        let end = try nonNegativeInt(offs[1], "end in \"data_offsets\"", fail)
        guard begin <= end else { throw fail("\"data_offsets\" [\(begin), \(end)] end before they start") }
        guard end <= dataSize else {
            throw fail("data [\(begin), \(end)) lies outside the data area (\(dataSize) bytes; file truncated?)")
        }
        guard end - begin == bytes else {
            throw fail("\"data_offsets\" [\(begin), \(end)) span \(end - begin) bytes but shape \(shape) of \(dtype) needs \(bytes)")
        }
        return SafeTensorInfo(name: name, dtype: dtype, shape: shape, elementCount: elements,
                              dataOffsets: begin..<end, fileOffset: dataStart + begin)
    }

    private static func nonNegativeInt(_ v: JSONValue, _ what: String, _ fail: (String) -> QuantKitError) throws -> Int {
        guard case .number(let text) = v else { throw fail("\(what) must be an integer, found \(v.kindName)") }
        if text.hasPrefix("-") { throw fail("\(what) is negative (\(text.prefix(40)))") }
        guard let i = Int(text) else {
            let isInteger = text.utf8.allSatisfy { (0x30...0x39).contains($0) }
            throw fail(isInteger ? "\(what) is too large (\(text.prefix(40)))" : "\(what) must be an integer, found \(text.prefix(40))")
        }
        return i
    }

    /// `__metadata__` as a dictionary (empty when absent).
    public var metadataDictionary: [String: String] {
        var d: [String: String] = [:]
        for (k, v) in metadata ?? [] { d[k] = v }
        return d
    }

    /// The tensor named `name`, or nil.
    public subscript(name: String) -> SafeTensorInfo? {
        byName[name].map { tensors[$0] }
    }

    /// The tensor named `name`, or an error naming the file and the tensor.
    public func info(_ name: String) throws -> SafeTensorInfo {
        guard let t = self[name] else { throw QuantKitError("no tensor named '\(JSONParser.printable(name))'", path: path) }
        return t
    }

    /// The raw little-endian bytes of a tensor (zero-copy; valid while `self` lives).
    /// Fails if `info` does not describe a range of this file.
    public func data(_ info: SafeTensorInfo) throws -> UnsafeRawBufferPointer {
        try file.bytes(at: info.fileOffset, count: info.byteCount)
    }

    /// The raw little-endian bytes of the tensor named `name` (zero-copy).
    public func data(_ name: String) throws -> UnsafeRawBufferPointer {
        try data(info(name))
    }

    /// Converts the tensor named `name` to F32 into `destination`, which must hold exactly
    /// `elementCount` values. See `SafeTensorsConversion.toF32`.
    public func convertToF32(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws {
        let t = try info(name)
        try SafeTensorsConversion.toF32(data(t), dtype: t.dtype, into: destination, path: path, tensor: name)
    }
}
