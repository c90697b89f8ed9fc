import GGUF
import QKCore

/// Hessians saved to disk, so one calibration run serves every file type (`quant quantize
/// --method gptq --save-hessians F`, then `--hessians F`). A GGUF with `general.type =
/// hessians`: per distinct input one F32 tensor [n, n] named after its first matrix (the upper
/// triangle is meaningful), its token count in `hessians.rows.<name>` and the matrices sharing
/// it in `hessians.shared.<name>`.
extension Hessians {
    /// Writes every distinct moment (atomically). A streamed set is computed and written a
    /// window at a time, so memory stays within its budget; a set that is also being
    /// quantized from should be read back from the file afterwards (`init(path:)`).
    public func write(to path: String) throws {
        if source != nil { return try writeStreamed(to: path) }
        var groups: [(first: String, names: [String], moment: Moment)] = []
        var seen: [ObjectIdentifier: Int] = [:]
        for name in names {
            guard let m = moment(for: name) else { continue }
            if let i = seen[ObjectIdentifier(m)] { groups[i].names.append(name); continue }
            seen[ObjectIdentifier(m)] = groups.count
            groups.append((name, [name], m))
        }
        let w = try GGUFWriter(path: path, metadata: Self.fileMetadata(groups.map { ($0.first, $0.names, $0.moment.rows) }),
                               tensors: groups.map { GGUFTensorInfo(name: $0.first, type: .f32, shape: [$0.moment.n, $0.moment.n]) })
        for g in groups { try g.moment.sum.withUnsafeBytes { try w.writeTensor($0) } }
        try w.finish()
    }

    private func writeStreamed(to path: String) throws {
        guard let source else { return }
        let windows = savingWindows()
        let ordered = windows.flatMap { $0 }.map { source.groups[$0] }
        var writer: GGUFWriter?
        for window in windows {
            let moments = try source.load(window)
            lock.withLock { peakBytes = max(peakBytes, heldBytes() + moments.reduce(0) { $0 + $1.sum.count * 4 }) }
            if writer == nil {   // the token counts are known once the first window is done
                let entries = try windows.flatMap { $0 }.map { g -> (String, [String], Int64) in
                    guard let rows = source.rows(of: g) else {
                        throw QuantKitError("no token count for the statistics of \(source.groups[g].key)", path: path)
                    }
                    return (source.groups[g].key, source.groups[g].names.sorted(), rows)
                }
                writer = try GGUFWriter(path: path, metadata: Self.fileMetadata(entries),
                                        tensors: ordered.map { GGUFTensorInfo(name: $0.key, type: .f32, shape: [$0.n, $0.n]) })
            }
            for m in moments { try m.sum.withUnsafeBytes { try writer!.writeTensor($0) } }
        }
        if writer == nil {
            writer = try GGUFWriter(path: path, metadata: Self.fileMetadata([]), tensors: [])
        }
        try writer!.finish()
    }

    static func fileMetadata(_ groups: [(first: String, names: [String], rows: Int64)]) -> GGUFMetadata {
        var meta = GGUFMetadata()
        meta["general.type"] = .string("hessians")
        for g in groups {
            meta["hessians.rows.\(g.first)"] = .uint64(UInt64(g.rows))
            meta["hessians.shared.\(g.first)"] = .array(.string(g.names))
        }
        return meta
    }

    /// Opens a file written by `write(to:)`. Moments are read from it one input at a time, as
    /// the quantizer asks for them (`prepare`), so memory holds one moment, not the file.
    public convenience init(path: String) throws {
        self.init(source: try HessiansFileSource(path: path), budget: 0)
    }
}

/// The moments of a Hessians file, copied out of the mapped file when asked for.
final class HessiansFileSource: HessianSource {
    let file: GGUFFile
    let groups: [HessianGroup]
    let counts: [Int64]

    init(path: String) throws {
        file = try GGUFFile(path: path)
        guard file.metadata["general.type"]?.string == "hessians" else {
            throw QuantKitError("not a Hessians file (general.type is not 'hessians')", path: path)
        }
        var groups: [HessianGroup] = [], counts: [Int64] = []
        var claimed = Set<String>()
        for t in file.tensors {
            guard t.type == .f32, t.shape.count == 2, t.shape[0] == t.shape[1], t.shape[0] > 0 else {
                throw QuantKitError("Hessian '\(t.name)' must be a square F32 matrix, is \(t.type.name) \(t.shape)", path: path)
            }
            guard let names = file.metadata["hessians.shared.\(t.name)"]?.array?.strings, !names.isEmpty,
                  let rows = file.metadata["hessians.rows.\(t.name)"]?.int else {
                throw QuantKitError("Hessian '\(t.name)' has no hessians.shared / hessians.rows entries", path: path)
            }
            guard file.data(of: t).count == t.shape[0] * t.shape[0] * 4 else {
                throw QuantKitError("Hessian '\(t.name)' is truncated", path: path)
            }
            for name in names where !claimed.insert(name).inserted {
                throw QuantKitError("matrix '\(name)' appears in two Hessians", path: path)
            }
            groups.append(HessianGroup(names: names, n: t.shape[0]))
            counts.append(Int64(rows))
        }
        self.groups = groups
        self.counts = counts
    }

    func load(_ wanted: [Int]) throws -> [Hessians.Moment] {
        wanted.map { g in
            let t = file.tensors[g]
            let m = Hessians.Moment(n: t.shape[0])
            m.rows = counts[g]
            let data = file.data(of: t)
            m.sum.withUnsafeMutableBytes { $0.copyMemory(from: data) }
            file.file?.dropPages(in: data)   // the copy is what counts; the mapped pages can go
            return m
        }
    }

    func rows(of group: Int) -> Int64? { counts[group] }
}
