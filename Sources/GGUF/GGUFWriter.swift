import QKCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a GGUF file as a stream: the header (metadata and tensor infos, with data offsets
/// computed from the declared tensors) goes out first, then each tensor's bytes in order.
///
/// Nothing is held in memory but the header, so a quantizer can produce a 100 GB model one
/// tensor (or one chunk) at a time. The layout is exactly the one llama.cpp and gguf-py write:
/// zero padding to the alignment after the tensor infos and after every tensor (the last one
/// included), tensors packed in declaration order. Output is atomic (`QKCore.OutputFile`): the
/// file appears under its name only when `finish()` succeeds; if anything fails or the writer
/// is dropped unfinished, no file is left behind.
///
/// ```swift
/// let w = try GGUFWriter(path: "out.gguf", metadata: md, tensors: infos)
/// for t in w.tensors { try w.writeTensor(named: t.name, bytes(of: t)) }
/// try w.finish()
/// ```
public final class GGUFWriter {
    /// The final path.
    public let path: String
    /// The declared tensors with the data offsets they get in this file.
    public let tensors: [GGUFTensorInfo]
    /// The metadata as written.
    public let metadata: GGUFMetadata
    /// Data alignment (`general.alignment`, default 32).
    public let alignment: Int
    /// Absolute offset of the data section.
    public let dataOffset: Int
    /// Total size the file will have.
    public let fileSize: Int
    /// Index in `tensors` of the tensor the next bytes belong to (`tensors.count` when all
    /// are written).
    public private(set) var nextTensor = 0

    private let out: OutputFile
    private var written = 0      // bytes of the current tensor written so far
    private var failed: QuantKitError?
    private var finished = false
    private var prepared = false

    /// Validates the declaration, creates the temporary output and writes the header.
    ///
    /// - Parameters:
    ///   - metadata: written in order, with exactly the value types given. `general.alignment`,
    ///     if present, must be a power-of-two UINT32 and sets the alignment.
    ///   - tensors: names, types and shapes, in the order their data will be written; the
    ///     `offset` fields are ignored and recomputed.
    ///   - version: GGUF version to write (3, or 2 to reproduce an old file; the layout is the same).
    ///   - padEmptyDataSection: with no tensors, whether to pad the file to the alignment after
    ///     the header as llama.cpp does (gguf-py's vocab-only files are not padded).
    ///   - bufferSize: output buffer (larger tensors bypass it).
    public init(path: String, metadata: GGUFMetadata, tensors: [GGUFTensorInfo],
                version: UInt32 = 3, padEmptyDataSection: Bool = true, bufferSize: Int = 4 << 20) throws {
        self.path = path
        let layout = try Self.layout(metadata: metadata, tensors: tensors, version: version, path: path)
        self.tensors = layout.tensors
        self.metadata = metadata
        alignment = layout.alignment
        dataOffset = padded(layout.header.count, layout.alignment)
        let padHeader = !tensors.isEmpty || padEmptyDataSection
        fileSize = tensors.isEmpty ? (padHeader ? dataOffset : layout.header.count) : dataOffset + layout.dataSize
        out = try OutputFile(path: path, bufferSize: bufferSize)
        try out.write(layout.header)
        if padHeader { try out.writeZeros(dataOffset - layout.header.count) }
    }

    /// Writes the whole data of the next tensor; `data.count` must be its exact byte count.
    public func writeTensor(_ data: UnsafeRawBufferPointer) throws {
        try guarded { try writeWhole(data, name: nil) }
    }

    /// Writes the whole data of the next tensor, checking that it is the one named `name`.
    public func writeTensor(named name: String, _ data: UnsafeRawBufferPointer) throws {
        try guarded { try writeWhole(data, name: name) }
    }

    private func writeWhole(_ data: UnsafeRawBufferPointer, name: String?) throws {
        guard nextTensor < tensors.count else {
            throw QuantKitError("\(data.count) bytes of tensor data for \(name.map { "'\($0)'" } ?? "a tensor") written after all \(tensors.count) declared tensors", path: path)
        }
        let t = tensors[nextTensor]
        if let name, name != t.name {
            throw QuantKitError("tensor '\(name)' written out of order: expected '\(t.name)' next", path: path)
        }
        guard written == 0 else {
            throw QuantKitError("tensor '\(t.name)': whole-tensor write after \(written) of its bytes were appended", path: path)
        }
        guard data.count == t.byteCount else {
            throw QuantKitError("tensor '\(t.name)' (\(t.type.name) \(t.shape)) needs \(t.byteCount) bytes, got \(data.count)", path: path)
        }
        try out.write(data)
        try completeTensor()
    }

    /// Writes tensor data from an array.
    public func writeTensor(named name: String, _ data: [UInt8]) throws {
        try data.withUnsafeBytes { try writeTensor(named: name, $0) }
    }

    /// Appends a chunk of the current tensor's data (for tensors produced piece by piece).
    /// When a tensor's last byte arrives it is padded and the next one begins; a chunk may not
    /// run past the end of the current tensor. Tensors of zero bytes are skipped over.
    public func append(_ chunk: UnsafeRawBufferPointer) throws {
        guard chunk.count > 0 else { return }
        try guarded {
            try skipEmptyTensors()
            guard nextTensor < tensors.count else {
                throw QuantKitError("\(chunk.count) bytes of tensor data written after all \(tensors.count) declared tensors", path: path)
            }
            let t = tensors[nextTensor]
            guard chunk.count <= t.byteCount - written else {
                throw QuantKitError("tensor '\(t.name)' (\(t.type.name) \(t.shape)) needs \(t.byteCount) bytes, got at least \(written + chunk.count)", path: path)
            }
            try out.write(chunk)
            written += chunk.count
            if written == t.byteCount { try completeTensor() }
        }
    }

    /// Checks every declared tensor was written in full, then atomically moves the file into
    /// place. On error nothing is left at `path` (an existing file there is untouched).
    public func finish() throws {
        try prepareCommit()
        try guarded {
            guard !finished else { throw QuantKitError("writer already finished", path: path) }
            try out.commit()
            finished = true
        }
    }

    /// Checks the file is complete and flushes it, without moving it into place yet: lets a
    /// caller writing several files (shards) commit them all only once all are complete.
    func prepareCommit() throws {
        try guarded {
            guard !prepared else { return }
            try skipEmptyTensors()
            if nextTensor < tensors.count {
                let t = tensors[nextTensor]
                let missing = tensors[nextTensor...].map { "'\($0.name)'" }
                let list = missing.prefix(5).joined(separator: ", ") + (missing.count > 5 ? " and \(missing.count - 5) more" : "")
                if written > 0 {
                    throw QuantKitError("incomplete: tensor '\(t.name)' got only \(written) of its \(t.byteCount) bytes; missing tensor data for \(list)", path: path)
                }
                throw QuantKitError("incomplete: no data written for \(missing.count) of \(tensors.count) tensors: \(list)", path: path)
            }
            precondition(out.offset == fileSize, "GGUFWriter: wrote \(out.offset) bytes, expected \(fileSize)")
            try out.flush()
            prepared = true
        }
    }

    private func completeTensor() throws {
        let t = tensors[nextTensor]
        try out.writeZeros(padded(t.byteCount, alignment) - t.byteCount)
        written = 0
        nextTensor += 1
    }

    private func skipEmptyTensors() throws {
        while written == 0, nextTensor < tensors.count, tensors[nextTensor].byteCount == 0 { try completeTensor() }
    }

    private func fail(_ e: QuantKitError) { if failed == nil { failed = e } }

    /// Runs `body` unless an earlier call failed; a failure poisons the writer (the output
    /// could no longer be right), and the temporary file goes when the writer is dropped.
    private func guarded(_ body: () throws -> Void) throws {
        if let failed { throw QuantKitError("cannot continue after an earlier error: \(failed.message)", path: path) }
        do { try body() } catch let e as QuantKitError {
            fail(e)
            throw e
        }
    }

    // MARK: - Layout and header encoding

    /// The header bytes and data layout for a declaration, after validating it.
    struct Layout {
        var header: [UInt8]
        var tensors: [GGUFTensorInfo]
        var alignment: Int
        var dataSize: Int
    }

    static func layout(metadata: GGUFMetadata, tensors: [GGUFTensorInfo], version: UInt32, path: String) throws -> Layout {
        func fail(_ m: String) -> QuantKitError { QuantKitError(m, path: path) }
        guard version == 2 || version == 3 else { throw fail("cannot write GGUF version \(version) (2 or 3)") }
        var alignment = GGUFFile.defaultAlignment
        if let a = metadata["general.alignment"] {
            guard case .uint32(let v) = a, v > 0, v & (v - 1) == 0, v <= GGUFFile.maxAlignment else {
                throw fail("general.alignment must be a power of two UINT32 of at most \(GGUFFile.maxAlignment), got \(a.type.name) \(HeaderParser.describe(a))")
            }
            alignment = Int(v)
        }
        for e in metadata {
            guard !e.key.isEmpty else { throw fail("metadata key is empty") }
            if case .array(let a) = e.value, case let d = nestingDepth(a), d > GGUFFile.maxNesting {
                throw fail("metadata '\(e.key)': arrays nested \(d) deep (at most \(GGUFFile.maxNesting))")
            }
        }
        var laid: [GGUFTensorInfo] = []
        laid.reserveCapacity(tensors.count)
        var seen = Set<String>()
        var offset = 0
        for var t in tensors {
            guard seen.insert(t.name).inserted else { throw fail("duplicate tensor name '\(t.name)'") }
            guard t.name.utf8.count <= GGUFTensorInfo.maxNameBytes else {
                throw fail("tensor name '\(t.name)' is \(t.name.utf8.count) bytes, longer than llama.cpp's limit of \(GGUFTensorInfo.maxNameBytes)")
            }
            let n: Int
            switch GGUFTensorInfo.checkedByteCount(type: t.type, shape: t.shape) {
            case .success(let b): n = b
            case .failure(let p): throw fail("tensor '\(t.name)' (\(t.type.name) \(t.shape)): \(p)")
            }
            let (end, o) = offset.addingReportingOverflow(n)
            guard !o, end <= Int.max - alignment else { throw fail("total tensor data size overflows") }
            t.offset = offset
            offset = padded(end, alignment)
            laid.append(t)
        }
        let header = encodeHeader(metadata: metadata, tensors: laid, version: version)
        guard offset <= Int.max - padded(header.count, alignment) else { throw fail("total file size overflows") }
        return Layout(header: header, tensors: laid, alignment: alignment, dataSize: offset)
    }

    private static func nestingDepth(_ a: GGUFArray) -> Int {
        guard case .array(let inner) = a else { return 1 }
        return 1 + (inner.map(nestingDepth).max() ?? 0)
    }

    /// Encodes magic, version, counts, metadata and tensor infos (without the padding that
    /// follows). The tensor offsets are taken as given.
    public static func encodeHeader(metadata: GGUFMetadata, tensors: [GGUFTensorInfo], version: UInt32 = 3) -> [UInt8] {
        var size = 24
        for kv in metadata { size += 8 + kv.key.utf8.count + 4 + HeaderEncoder.size(of: kv.value) }
        for t in tensors { size += 8 + t.name.utf8.count + 4 + 8 * t.shape.count + 4 + 8 }
        return [UInt8](unsafeUninitializedCapacity: size) { buf, count in
            var e = HeaderEncoder(base: UnsafeMutableRawPointer(buf.baseAddress!))
            e.u32(GGUFFile.magic)
            e.u32(version)
            e.u64(UInt64(tensors.count))
            e.u64(UInt64(metadata.count))
            for kv in metadata {
                e.string(kv.key)
                e.u32(kv.value.type.rawValue)
                e.value(kv.value)
            }
            for t in tensors {
                e.string(t.name)
                e.u32(UInt32(t.shape.count))
                for d in t.shape { e.u64(UInt64(d)) }
                e.u32(t.type.rawValue)
                e.u64(UInt64(t.offset))
            }
            precondition(e.at == size, "GGUF header size mismatch")
            count = size
        }
    }

    /// Rewrites `source` to `path` with the same version, metadata, tensors and padding: for
    /// every file in llama.cpp/gguf-py layout (`isCanonicalLayout`) the result is byte-identical.
    public static func copy(_ source: GGUFFile, to path: String) throws {
        let w = try GGUFWriter(path: path, metadata: source.metadata, tensors: source.tensors, version: source.version,
                               padEmptyDataSection: source.fileSize > source.headerSize)
        for i in source.tensors.indices { try w.writeTensor(source.data(at: i)) }
        try w.finish()
    }
}

/// Little-endian GGUF encoding into memory sized beforehand (`size(of:)`). Non-generic on
/// the hot path (one string per vocabulary token), so it is quick in debug builds too.
struct HeaderEncoder {
    let base: UnsafeMutableRawPointer
    var at = 0

    /// Encoded size of a value (without its type id).
    static func size(of v: GGUFValue) -> Int {
        switch v {
        case .string(let s): 8 + s.utf8.count
        case .array(let a): size(of: a)
        default: v.type.fixedSize!
        }
    }

    /// Encoded size of an array: element type, count, elements.
    static func size(of a: GGUFArray) -> Int {
        switch a {
        case .string(let x): 12 + x.reduce(0) { $0 + 8 + $1.utf8.count }
        case .array(let x): 12 + x.reduce(0) { $0 + size(of: $1) }
        default: 12 + a.count * a.elementType.fixedSize!
        }
    }

    private mutating func raw(_ p: UnsafeRawPointer, _ n: Int) {
        if n > 0 { memcpy(base + at, p, n) }
        at += n
    }

    mutating func u8(_ v: UInt8) { base.storeBytes(of: v, toByteOffset: at, as: UInt8.self); at += 1 }
    mutating func u16(_ v: UInt16) { var x = v.littleEndian; raw(&x, 2) }
    mutating func u32(_ v: UInt32) { var x = v.littleEndian; raw(&x, 4) }
    mutating func u64(_ v: UInt64) { var x = v.littleEndian; raw(&x, 8) }

    mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { u in
            u64(UInt64(u.count))
            if let p = u.baseAddress { raw(p, u.count) }
        }
    }

    mutating func elements<T>(_ a: [T]) {
        a.withUnsafeBytes { if let p = $0.baseAddress { raw(p, $0.count) } }
    }

    mutating func value(_ v: GGUFValue) {
        switch v {
        case .uint8(let x): u8(x)
        case .int8(let x): u8(UInt8(bitPattern: x))
        case .uint16(let x): u16(x)
        case .int16(let x): u16(UInt16(bitPattern: x))
        case .uint32(let x): u32(x)
        case .int32(let x): u32(UInt32(bitPattern: x))
        case .uint64(let x): u64(x)
        case .int64(let x): u64(UInt64(bitPattern: x))
        case .float32(let x): u32(x.bitPattern)
        case .float64(let x): u64(x.bitPattern)
        case .bool(let x): u8(x ? 1 : 0)
        case .string(let s): string(s)
        case .array(let a): array(a)
        }
    }

    mutating func array(_ a: GGUFArray) {
        u32(a.elementType.rawValue)
        u64(UInt64(a.count))
        switch a {
        case .uint8(let x): elements(x)
        case .int8(let x): elements(x)
        case .uint16(let x): elements(x)
        case .int16(let x): elements(x)
        case .uint32(let x): elements(x)
        case .int32(let x): elements(x)
        case .uint64(let x): elements(x)
        case .int64(let x): elements(x)
        case .float32(let x): elements(x)
        case .float64(let x): elements(x)
        case .bool(let x): elements(x)
        case .string(let x): for s in x { string(s) }
        case .array(let x): for inner in x { array(inner) }
        }
    }
}
