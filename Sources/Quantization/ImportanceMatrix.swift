import GGUF
import QKCore

/// Per-column importance weights for weight matrices, as llama-quantize loads them from an
/// importance-matrix file (llama.cpp's GGUF imatrix or the legacy `.dat`).
///
/// For each tensor, `weights(for:)` gives one value per input column (per expert for 3-D
/// tensors, experts concatenated): the mean squared activation that entered that column.
public struct ImportanceMatrix: Sendable {
    /// Normalised weights by tensor name (sums / counts, as llama-quantize computes them).
    public private(set) var entries: [String: [Float]]
    /// Calibration datasets recorded in the file.
    public var datasets: [String]
    /// Number of chunks the matrix was computed on (0 if unknown).
    public var chunkCount: Int
    /// Chunk size in tokens (0 if unknown or legacy).
    public var chunkSize: Int
    /// True when loaded from a legacy `.dat` file.
    public var isLegacy: Bool
    /// Path it was loaded from.
    public var path: String

    /// Loads a GGUF imatrix or, if the file is not GGUF, a legacy `.dat` imatrix.
    public init(path: String) throws {
        let file = try MappedFile(path: path)
        self.path = path
        let head = try file.bytes(at: 0, count: min(4, file.count))
        if head.count == 4 && head.loadUnaligned(as: UInt32.self) == GGUFFile.magic {
            (entries, datasets, chunkCount, chunkSize) = try Self.loadGGUF(GGUFFile(file: file))
            isLegacy = false
        } else {
            (entries, datasets, chunkCount) = try Self.loadLegacy(file)
            chunkSize = 0
            isLegacy = true
        }
        guard !entries.isEmpty else { throw QuantKitError("importance matrix has no entries", path: path) }
    }

    /// The weights for `tensor`, if the matrix has an entry for it.
    public func weights(for tensor: String) -> [Float]? { entries[tensor] }

    /// Drops entries, as llama-quantize's --include-weights/--exclude-weights do (substring match).
    public mutating func filter(include: [String], exclude: [String]) {
        if !exclude.isEmpty {
            entries = entries.filter { e in !exclude.contains { e.key.contains($0) } }
        }
        if !include.isEmpty {
            entries = entries.filter { e in include.contains { e.key.contains($0) } }
        }
    }

    private static func loadGGUF(_ g: GGUFFile) throws -> ([String: [Float]], [String], Int, Int) {
        let datasets = g["imatrix.datasets"]?.array?.strings ?? []
        guard datasets.count > 0 || g["imatrix.datasets"] != nil,
              g["imatrix.chunk_count"] != nil, g["imatrix.chunk_size"] != nil else {
            throw QuantKitError("missing imatrix metadata (imatrix.datasets, imatrix.chunk_count, imatrix.chunk_size): not an importance matrix?", path: g.path)
        }
        var sums: [String: GGUFTensorInfo] = [:]
        var counts: [String: GGUFTensorInfo] = [:]
        for t in g.tensors {
            if t.name.hasSuffix(".in_sum2") { sums[String(t.name.dropLast(8))] = t }
            else if t.name.hasSuffix(".counts") { counts[String(t.name.dropLast(7))] = t }
        }
        var out: [String: [Float]] = [:]
        for (name, s) in sums {
            guard let c = counts[name] else { throw QuantKitError("'\(name)' has sums but no counts", path: g.path) }
            guard s.type == .f32, c.type == .f32 else { throw QuantKitError("sums and counts of '\(name)' must be F32", path: g.path) }
            let sv = g.data(of: s).bindMemory(to: Float.self)
            let cv = g.data(of: c).bindMemory(to: Float.self)
            guard cv.count > 0, sv.count % cv.count == 0 else {
                throw QuantKitError("'\(name)': \(sv.count) sums do not split into \(cv.count) experts", path: g.path)
            }
            let ne0 = sv.count / cv.count
            var e = [Float](repeating: 1, count: sv.count)
            for j in 0 ..< cv.count {
                let count = Float(Int(cv[j].rounded()))
                guard count > 0 else { continue }
                for i in 0 ..< ne0 { e[j * ne0 + i] = sv[j * ne0 + i] / count }
            }
            out[name] = e
        }
        for name in counts.keys where sums[name] == nil {
            throw QuantKitError("'\(name)' has counts but no sums", path: g.path)
        }
        return (out, datasets, g["imatrix.chunk_count"]?.int ?? 0, g["imatrix.chunk_size"]?.int ?? 0)
    }

    private static func loadLegacy(_ f: MappedFile) throws -> ([String: [Float]], [String], Int) {
        let all = try f.bytes(at: 0, count: f.count)
        var off = 0
        func i32(_ what: String) throws -> Int32 {
            guard f.count - off >= 4 else { throw QuantKitError("truncated legacy imatrix reading \(what)", path: f.path) }
            defer { off += 4 }
            return Int32(littleEndian: all.loadUnaligned(fromByteOffset: off, as: Int32.self))
        }
        let n = try i32("entry count")
        guard n >= 1 else { throw QuantKitError("not an importance matrix (neither GGUF nor legacy .dat with entries)", path: f.path) }
        var out: [String: [Float]] = [:]
        for i in 0 ..< Int(n) {
            let len = Int(try i32("name length of entry \(i + 1)"))
            guard len >= 0, len <= f.count - off else { throw QuantKitError("entry \(i + 1): name length \(len) exceeds the file", path: f.path) }
            let nameBytes = UnsafeRawBufferPointer(rebasing: all[off ..< off + len])
            guard let name = String(validating: nameBytes.assumingMemoryBound(to: UInt8.self), as: UTF8.self) else {
                throw QuantKitError("entry \(i + 1): name is not valid UTF-8", path: f.path)
            }
            off += len
            let ncall = try i32("call count of '\(name)'")
            let nval = Int(try i32("value count of '\(name)'"))
            guard nval >= 1, nval <= (f.count - off) / 4 else {
                throw QuantKitError("'\(name)': \(nval) values do not fit in the file", path: f.path)
            }
            var e = [Float](repeating: 0, count: nval)
            for j in 0 ..< nval {
                let v = Float(bitPattern: UInt32(littleEndian: all.loadUnaligned(fromByteOffset: off + 4 * j, as: UInt32.self)))
                e[j] = ncall > 0 ? v / Float(ncall) : v
            }
            off += 4 * nval
            out[name] = e
        }
        var chunks = 0
        var datasets: [String] = []
        if f.count - off >= 4 {
            chunks = Int(try i32("chunk count"))
            if f.count - off >= 4 {
                let len = Int(try i32("dataset name length"))
                if len > 0, len <= f.count - off {
                    datasets.append(String(decoding: UnsafeRawBufferPointer(rebasing: all[off ..< off + len]), as: UTF8.self))
                }
            }
        }
        return (out, datasets, chunks)
    }
}
