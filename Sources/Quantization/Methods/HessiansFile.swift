import GGUF
import QKCore

/// Hessians saved to disk, so one calibration run serves every file type (`quant quantize
/// --method gptq --save-hessians F`, then `--hessians F`). A GGUF with `general.type =
/// hessians`: per distinct input one F32 tensor [n, n] named after its first matrix (the upper
/// triangle is meaningful), its token count in `hessians.rows.<name>` and the matrices sharing
/// it in `hessians.shared.<name>`.
extension Hessians {
    /// Writes every distinct moment (atomically).
    public func write(to path: String) throws {
        var groups: [(first: String, names: [String], moment: Moment)] = []
        var seen: [ObjectIdentifier: Int] = [:]
        for name in names {
            guard let m = moment(for: name) else { continue }
            if let i = seen[ObjectIdentifier(m)] { groups[i].names.append(name); continue }
            seen[ObjectIdentifier(m)] = groups.count
            groups.append((name, [name], m))
        }
        var meta = GGUFMetadata()
        meta["general.type"] = .string("hessians")
        for g in groups {
            meta["hessians.rows.\(g.first)"] = .uint64(UInt64(g.moment.rows))
            meta["hessians.shared.\(g.first)"] = .array(.string(g.names))
        }
        let w = try GGUFWriter(path: path, metadata: meta,
                               tensors: groups.map { GGUFTensorInfo(name: $0.first, type: .f32, shape: [$0.moment.n, $0.moment.n]) })
        for g in groups { try g.moment.sum.withUnsafeBytes { try w.writeTensor($0) } }
        try w.finish()
    }

    /// Reads a file written by `write(to:)`.
    public convenience init(path: String) throws {
        self.init()
        let file = try GGUFFile(path: path)
        guard file.metadata["general.type"]?.string == "hessians" else {
            throw QuantKitError("not a Hessians file (general.type is not 'hessians')", path: path)
        }
        for t in file.tensors {
            guard t.type == .f32, t.shape.count == 2, t.shape[0] == t.shape[1], t.shape[0] > 0 else {
                throw QuantKitError("Hessian '\(t.name)' must be a square F32 matrix, is \(t.type.name) \(t.shape)", path: path)
            }
            guard let names = file.metadata["hessians.shared.\(t.name)"]?.array?.strings,
                  let rows = file.metadata["hessians.rows.\(t.name)"]?.int else {
                throw QuantKitError("Hessian '\(t.name)' has no hessians.shared / hessians.rows entries", path: path)
            }
            let data = file.data(of: t)
            guard data.count == t.shape[0] * t.shape[0] * 4 else {
                throw QuantKitError("Hessian '\(t.name)' is truncated", path: path)
            }
            let m = moment(sharedBy: names, n: t.shape[0])
            m.rows = Int64(rows)
            m.sum.withUnsafeMutableBytes { $0.copyMemory(from: data) }
        }
    }
}
