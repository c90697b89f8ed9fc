import QKCore

/// What the writer needs to know about a tensor before any data is written.
public struct SafeTensorSpec: Sendable, Hashable {
    public let name: String
    public let dtype: SafeTensorsDType
    public let shape: [Int]
    /// Bytes of data: product of `shape` × `dtype.byteSize`.
    public let byteCount: Int

    /// Describes a tensor; fails on negative dimensions or a size that overflows.
    public init(name: String, dtype: SafeTensorsDType, shape: [Int]) throws {
        var bytes = dtype.byteSize
        var overflow = false
        for d in shape {
            guard d >= 0 else { throw QuantKitError("tensor '\(JSONParser.printable(name))': negative dimension in shape \(shape)") }
            let (p, o) = bytes.multipliedReportingOverflow(by: d)
            bytes = p
            overflow = overflow || o
        }
        if shape.contains(0) { bytes = 0; overflow = false }
        if overflow { throw QuantKitError("tensor '\(JSONParser.printable(name))': shape \(shape) is too large") }
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.byteCount = bytes
    }

    /// The spec of a tensor read from a file.
    public init(_ info: SafeTensorInfo) {
        name = info.name
        dtype = info.dtype
        shape = info.shape
        byteCount = info.byteCount
    }

    /// `specs` in the order the reference `safetensors` library lays tensors out (larger
    /// alignment first, then by name in code point order). Writing in this order with the
    /// same metadata reproduces its files byte for byte, and keeps every tensor naturally
    /// aligned within the data area.
    public static func referenceOrder(_ specs: [SafeTensorSpec]) -> [SafeTensorSpec] {
        specs.sorted {
            if $0.dtype.referenceRank != $1.dtype.referenceRank { return $0.dtype.referenceRank > $1.dtype.referenceRank }
            return codePointLess($0.name, $1.name)
        }
    }
}

/// Orders strings by Unicode code point, as Rust and Python sort them (Swift's `<` uses
/// canonical equivalence instead).
func codePointLess(_ a: String, _ b: String) -> Bool {
    a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) { $0.value < $1.value }
}

/// Streams a safetensors file to disk, atomically.
///
/// All tensors are declared up front, so the header is written first and data can then be
/// streamed tensor by tensor (or in arbitrary chunks) without holding the model in memory.
/// The header is compact JSON with `__metadata__` first and tensors in data order, padded
/// with spaces to a multiple of 8 bytes, exactly as the reference library writes it. Data is
/// packed without gaps in the declared order. Nothing appears at `path` until `commit()`
/// succeeds; a writer dropped earlier leaves no file behind.
public final class SafeTensorsWriter {
    /// The destination path.
    public var path: String { out.path }
    /// The tensors, in data order.
    public let tensors: [SafeTensorSpec]
    /// Bytes of the data area (sum of the tensors' sizes).
    public let dataSize: Int
    /// Data bytes written so far.
    public private(set) var written = 0
    private let offsets: [Int]
    private let byName: [String: Int]
    private let out: OutputFile

    /// Creates the (temporary) file and writes the header.
    /// - Parameters:
    ///   - tensors: every tensor, in the order their data will be written; names must be
    ///     unique and must not be `__metadata__`.
    ///   - metadata: the `__metadata__` map, written in the given order; nil omits it.
    public init(path: String, tensors: [SafeTensorSpec], metadata: SafeTensorsMetadata? = nil) throws {
        var offsets: [Int] = []
        offsets.reserveCapacity(tensors.count + 1)
        var total = 0
        var byName: [String: Int] = [:]
        for (i, t) in tensors.enumerated() {
            guard t.name != "__metadata__" else { throw QuantKitError("a tensor cannot be named __metadata__", path: path) }
            guard byName.updateValue(i, forKey: t.name) == nil else {
                throw QuantKitError("duplicate tensor name '\(JSONParser.printable(t.name))'", path: path)
            }
            offsets.append(total)
            let (s, o) = total.addingReportingOverflow(t.byteCount)
            guard !o else { throw QuantKitError("total data size overflows", path: path) }
            total = s
        }
        offsets.append(total)
        if let metadata {
            var keys = Set<String>()
            for (k, _) in metadata where !keys.insert(k).inserted {
                throw QuantKitError("duplicate metadata key '\(JSONParser.printable(k))'", path: path)
            }
        }
        self.tensors = tensors
        self.byName = byName
        self.offsets = offsets
        self.dataSize = total
        let header = Self.header(tensors: tensors, metadata: metadata)
        guard header.count <= SafeTensorsFile.maxHeaderSize else {
            throw QuantKitError("header would be \(header.count) bytes, over the \(SafeTensorsFile.maxHeaderSize)-byte limit readers accept", path: path)
        }
        out = try OutputFile(path: path)
        try out.write(le: UInt64(header.count))
        try out.write(header)
    }

    /// The header JSON (with its padding, without the 8-byte length) for these tensors,
    /// packed in order. Its size plus 8 plus the data sizes is the file size.
    public static func header(tensors: [SafeTensorSpec], metadata: SafeTensorsMetadata?) -> [UInt8] {
        var s = "{"
        var first = true
        if let metadata {
            s += "\"__metadata__\":{"
            s += metadata.map { JSONText.quoted($0.key) + ":" + JSONText.quoted($0.value) }.joined(separator: ",")
            s += "}"
            first = false
        }
        var offset = 0
        for t in tensors {
            if !first { s += "," }
            first = false
            s += JSONText.quoted(t.name)
            s += ":{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":["
            s += t.shape.map(String.init).joined(separator: ",")
            s += "],\"data_offsets\":[\(offset),\(offset + t.byteCount)]}"
            offset += t.byteCount
        }
        s += "}"
        var bytes = Array(s.utf8)
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - bytes.count % 8) % 8))
        return bytes
    }

    /// Index of the tensor whose data comes next (`tensors.count` when all are written).
    public private(set) var nextTensor = 0

    /// Appends data bytes, in any chunking; they fill the tensors in declared order.
    public func append(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count <= dataSize - written else {
            throw QuantKitError("more data than declared (\(written + bytes.count) > \(dataSize) bytes)", path: path)
        }
        try out.write(bytes)
        written += bytes.count
        // Pass every tensor now complete; an empty tensor stays due until data goes past it.
        while nextTensor < tensors.count,
              offsets[nextTensor + 1] < written || (offsets[nextTensor + 1] == written && tensors[nextTensor].byteCount > 0) {
            nextTensor += 1
        }
    }

    /// Writes the whole data of the tensor named `name`, which must be the next one due and
    /// exactly `byteCount` bytes: a guard against writing tensors out of order.
    public func writeTensor(named name: String, _ bytes: UnsafeRawBufferPointer) throws {
        guard let i = byName[name] else { throw QuantKitError("tensor '\(JSONParser.printable(name))' was not declared", path: path) }
        guard i == nextTensor, offsets[i] == written else {
            let due = nextTensor < tensors.count ? "'\(JSONParser.printable(tensors[nextTensor].name))'" : "nothing"
            throw QuantKitError("tensor '\(JSONParser.printable(name))' written out of order (\(due) is due)", path: path)
        }
        guard bytes.count == tensors[i].byteCount else {
            throw QuantKitError("tensor '\(JSONParser.printable(name))' needs \(tensors[i].byteCount) bytes, got \(bytes.count)", path: path)
        }
        try append(bytes)
        if nextTensor == i { nextTensor += 1 }
    }

    /// Checks that all data was written, then syncs and moves the file into place.
    public func commit() throws {
        guard written == dataSize else {
            throw QuantKitError("only \(written) of \(dataSize) data bytes were written (next: '\(JSONParser.printable(tensors[min(nextTensor, tensors.count - 1)].name))')", path: path)
        }
        try out.commit()
    }
}
