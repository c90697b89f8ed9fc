import GGUF
import QKCore

/// The raw contents of an importance-matrix file: per weight tensor, the sum of squared
/// activations entering each input column (Σx²) and how many activation rows were summed, in
/// llama.cpp's two formats — the GGUF imatrix (`general.type = imatrix`, `<name>.in_sum2` and
/// `<name>.counts` F32 tensors) and the legacy `.dat`.
///
/// This is what `quant imatrix` collects, writes and merges; `ImportanceMatrix` is the
/// normalised view (Σx² / count) that quantizers use.
public struct ImatrixData: Sendable {
    /// One weight tensor's statistics. 3-D (MoE) tensors have one count per expert and
    /// `sums.count / counts.count` values per expert; experts that saw no token have count 0.
    public struct Entry: Sendable, Equatable {
        public var sums: [Float]
        public var counts: [Int64]
        public init(sums: [Float], counts: [Int64]) { self.sums = sums; self.counts = counts }
        /// Values per expert (the tensor's row length).
        public var rowLength: Int { counts.isEmpty ? 0 : sums.count / counts.count }
    }

    public var entries: [String: Entry]
    /// Calibration text files the statistics came from, oldest first.
    public var datasets: [String]
    /// Tokens per chunk of calibration text (0: unknown, as in legacy files).
    public var chunkSize: Int
    /// Chunks recorded in the file (legacy files store it; GGUF files derive it from counts).
    public var storedChunkCount: Int
    /// True for a legacy `.dat` file: `sums` then hold mean × calls and `counts` the call count.
    public var isLegacy: Bool

    public init(entries: [String: Entry] = [:], datasets: [String] = [], chunkSize: Int, storedChunkCount: Int = 0,
                isLegacy: Bool = false) {
        self.entries = entries
        self.datasets = datasets
        self.chunkSize = chunkSize
        self.storedChunkCount = storedChunkCount
        self.isLegacy = isLegacy
    }

    /// Chunks of `chunkSize` tokens the statistics cover: the largest count over the chunk size,
    /// as llama-imatrix computes it.
    public var chunkCount: Int {
        guard !isLegacy, chunkSize > 0 else { return storedChunkCount }
        let most = entries.values.lazy.flatMap(\.counts).max() ?? 0
        return Int(most) / chunkSize
    }

    /// Per-column importance as llama-quantize derives it: Σx² / count per expert; experts
    /// without data get 1 (no preference).
    public func normalized() -> [String: [Float]] {
        var out: [String: [Float]] = [:]
        for (name, e) in entries {
            let n = e.rowLength
            var w = [Float](repeating: 1, count: e.sums.count)
            for (j, count) in e.counts.enumerated() {
                // Legacy sums are mean × calls; a GGUF expert without data keeps weight 1.
                if count > 0 {
                    for i in 0 ..< n { w[j * n + i] = e.sums[j * n + i] / Float(count) }
                } else if isLegacy {
                    for i in 0 ..< n { w[j * n + i] = e.sums[j * n + i] }
                }
            }
            out[name] = w
        }
        return out
    }

    // MARK: Reading

    /// Reads a GGUF imatrix or, when the file is not GGUF, a legacy `.dat` one.
    public init(path: String) throws {
        let file = try MappedFile(path: path)
        let head = try file.bytes(at: 0, count: min(4, file.count))
        if head.count == 4 && head.loadUnaligned(as: UInt32.self) == GGUFFile.magic {
            try self.init(gguf: GGUFFile(file: file))
        } else {
            try self.init(legacy: file)
        }
        guard !entries.isEmpty else { throw QuantKitError("importance matrix has no entries", path: path) }
    }

    private init(gguf g: GGUFFile) throws {
        guard g["imatrix.datasets"] != nil, g["imatrix.chunk_count"] != nil, g["imatrix.chunk_size"] != nil else {
            throw QuantKitError("missing imatrix metadata (imatrix.datasets, imatrix.chunk_count, imatrix.chunk_size): not an importance matrix?", path: g.path)
        }
        var sums: [String: GGUFTensorInfo] = [:]
        var counts: [String: GGUFTensorInfo] = [:]
        for t in g.tensors {
            if t.name.hasSuffix(".in_sum2") { sums[String(t.name.dropLast(8))] = t }
            else if t.name.hasSuffix(".counts") { counts[String(t.name.dropLast(7))] = t }
        }
        var out: [String: Entry] = [:]
        for (name, s) in sums {
            guard let c = counts[name] else { throw QuantKitError("'\(name)' has sums but no counts", path: g.path) }
            guard s.type == .f32, c.type == .f32 else { throw QuantKitError("sums and counts of '\(name)' must be F32", path: g.path) }
            let sv = g.data(of: s).bindMemory(to: Float.self)
            let cv = g.data(of: c).bindMemory(to: Float.self)
            guard cv.count > 0, sv.count % cv.count == 0 else {
                throw QuantKitError("'\(name)': \(sv.count) sums do not split into \(cv.count) experts", path: g.path)
            }
            guard cv.allSatisfy({ $0.isFinite && $0 >= 0 && $0 < 9e18 }) else {
                throw QuantKitError("'\(name)': counts must be finite and non-negative", path: g.path)
            }
            out[name] = Entry(sums: Array(sv), counts: cv.map { Int64($0.rounded()) })
        }
        for name in counts.keys where sums[name] == nil {
            throw QuantKitError("'\(name)' has counts but no sums", path: g.path)
        }
        self.init(entries: out, datasets: g["imatrix.datasets"]?.array?.strings ?? [],
                  chunkSize: g["imatrix.chunk_size"]?.int ?? 0, storedChunkCount: g["imatrix.chunk_count"]?.int ?? 0)
    }

    private init(legacy f: MappedFile) throws {
        let all = try f.bytes(at: 0, count: f.count)
        var off = 0
        func i32(_ what: String) throws -> Int32 {
            guard f.count - off >= 4 else { throw QuantKitError("truncated legacy imatrix reading \(what)", path: f.path) }
            defer { off += 4 }
            return Int32(littleEndian: all.loadUnaligned(fromByteOffset: off, as: Int32.self))
        }
        let n = try i32("entry count")
        guard n >= 1 else { throw QuantKitError("not an importance matrix (neither GGUF nor legacy .dat with entries)", path: f.path) }
        var out: [String: Entry] = [:]
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
            let sums = (0 ..< nval).map { j in
                Float(bitPattern: UInt32(littleEndian: all.loadUnaligned(fromByteOffset: off + 4 * j, as: UInt32.self)))
            }
            off += 4 * nval
            out[name] = Entry(sums: sums, counts: [Int64(ncall)])
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
        self.init(entries: out, datasets: datasets, chunkSize: 0, storedChunkCount: chunks, isLegacy: true)
    }

    // MARK: Merging

    /// Adds `other`'s statistics to these, as llama-imatrix's `--in-file` does: raw sums and
    /// counts add up, so each file weighs by how many tokens it saw. A legacy file's means are
    /// scaled back to sums with `chunkSize` tokens per call (its own size is not recorded).
    /// A single count on one side is broadcast over the other side's experts.
    public mutating func merge(_ other: ImatrixData, chunkSize legacyChunk: Int, otherPath: String? = nil) throws {
        precondition(!isLegacy, "merge into raw (GGUF-style) statistics")
        for (name, o) in other.entries.sorted(by: { $0.key < $1.key }) {
            var add = o
            if other.isLegacy {
                add.sums = o.sums.map { $0 * Float(legacyChunk) }
                add.counts = o.counts.map { $0 * Int64(legacyChunk) }
            }
            guard var e = entries[name] else { entries[name] = add; continue }
            guard e.sums.count == add.sums.count else {
                throw QuantKitError("'\(name)' has \(add.sums.count) values here but \(e.sums.count) in the matrices merged before", path: otherPath)
            }
            if e.counts.count == 1 && add.counts.count > 1 { e.counts = Array(repeating: e.counts[0], count: add.counts.count) }
            if add.counts.count == 1 && e.counts.count > 1 { add.counts = Array(repeating: add.counts[0], count: e.counts.count) }
            guard e.counts.count == add.counts.count else {
                throw QuantKitError("'\(name)' has \(add.counts.count) experts here but \(e.counts.count) before", path: otherPath)
            }
            for j in e.sums.indices { e.sums[j] += add.sums[j] }
            for j in e.counts.indices { e.counts[j] += add.counts[j] }
            entries[name] = e
        }
        datasets += other.datasets
        if chunkSize == 0 { chunkSize = other.isLegacy ? legacyChunk : other.chunkSize }
    }

    // MARK: Writing

    /// Writes llama.cpp's GGUF imatrix (tensors in name order, written atomically).
    public func writeGGUF(to path: String) throws {
        precondition(!isLegacy)
        var meta = GGUFMetadata()
        meta["general.type"] = .string("imatrix")
        meta["imatrix.datasets"] = .array(.string(datasets))
        meta["imatrix.chunk_count"] = .uint32(UInt32(clamping: chunkCount))
        meta["imatrix.chunk_size"] = .uint32(UInt32(clamping: chunkSize))
        let names = entries.keys.sorted().filter { !entries[$0]!.counts.isEmpty }
        var infos: [GGUFTensorInfo] = []
        for name in names {
            let e = entries[name]!
            // ggml writes as many dimensions as are not trailing 1s.
            let experts = e.counts.count > 1 ? [e.counts.count] : []
            infos.append(GGUFTensorInfo(name: name + ".in_sum2", type: .f32, shape: [e.rowLength] + experts))
            infos.append(GGUFTensorInfo(name: name + ".counts", type: .f32, shape: [1] + experts))
        }
        let w = try GGUFWriter(path: path, metadata: meta, tensors: infos)
        for name in names {
            let e = entries[name]!
            try e.sums.withUnsafeBytes { try w.writeTensor($0) }
            try e.counts.map { Float($0) }.withUnsafeBytes { try w.writeTensor($0) }
        }
        try w.finish()
    }

    /// Writes the legacy `.dat` format, as `llama-imatrix --output-format dat` does: per entry
    /// the mean × calls (calls = chunks of `chunkSize` tokens, rounded up), entries without any
    /// data skipped, experts without data stored as 1; then the chunk count and dataset name.
    public func writeLegacy(to path: String) throws {
        precondition(!isLegacy && chunkSize > 0)
        let out = try OutputFile(path: path)
        let names = entries.keys.sorted().filter { entries[$0]!.counts.contains { $0 > 0 } }
        try out.write(le: Int32(names.count))
        for name in names {
            let e = entries[name]!
            let bytes = Array(name.utf8)
            try out.write(le: Int32(bytes.count))
            try out.write(bytes)
            let calls = (Int(e.counts.max()!) + chunkSize - 1) / chunkSize
            try out.write(le: Int32(calls))
            try out.write(le: Int32(e.sums.count))
            let n = e.rowLength
            let values: [Float] = e.sums.indices.map { i in
                var count = Float(e.counts[i / n]), value = e.sums[i]
                if count == 0 { value = 1; count = 1 }
                return (value / count) * Float(calls)
            }
            try values.withUnsafeBytes { try out.write($0) }
        }
        try out.write(le: Int32(chunkCount))
        let dataset = Array((datasets.last ?? "").utf8)
        try out.write(le: Int32(dataset.count))
        try out.write(dataset)
        try out.commit()
    }
}
