import Foundation
import QKCore
import SafeTensors

extension ModelSummary {
    /// Summarises a safetensors file or a Hugging Face checkpoint directory; `config.json` and
    /// `tokenizer.json` beside the weights, when present, supply the architecture,
    /// hyper-parameters, context length and vocabulary.
    public init(safetensors m: SafeTensorsModel) {
        format = m.shards.count > 1 ? "safetensors (\(m.shards.count) shards)" : "safetensors"
        path = m.path
        fileBytes = m.shards.reduce(0) { $0 + $1.file.count }
        tensorCount = m.tensors.count
        parameterCount = m.tensors.reduce(0) { $0 + $1.info.elementCount }
        tensorBytes = m.tensors.reduce(0) { $0 + $1.info.byteCount }
        var groups: [String: (Int, Int, Int)] = [:]
        for t in m.tensors {
            let g = groups[t.info.dtype.rawValue] ?? (0, 0, 0)
            groups[t.info.dtype.rawValue] = (g.0 + 1, g.1 + t.info.byteCount, g.2 + t.info.elementCount)
        }
        byType = groups.map { (type: $0.key, count: $0.value.0, bytes: $0.value.1, parameters: $0.value.2) }
            .sorted { $0.bytes > $1.bytes }
        let dir = Self.directory(of: m.path)
        let config = Self.jsonObject("\(dir)/config.json")
        architecture = (config?["architectures"] as? [String])?.first ?? config?["model_type"] as? String
        name = config?["_name_or_path"] as? String
        hyperParameters = (config ?? [:]).compactMap { k, v in
            switch v {
            case let n as NSNumber: return (k, n.stringValue)
            case let s as String: return (k, "\"\(s)\"")
            default: return nil
            }
        }.sorted { $0.key < $1.key }
        contextLength = (config?["max_position_embeddings"] as? NSNumber)?.intValue
        fileType = nil
        let tok = Self.jsonObject("\(dir)/tokenizer.json")
        let tmodel = tok?["model"] as? [String: Any]
        tokenizerModel = tmodel?["type"] as? String
        tokenizerPre = nil
        vocabSize = (tmodel?["vocab"] as? [String: Any])?.count ?? (tmodel?["vocab"] as? [Any])?.count
            ?? (config?["vocab_size"] as? NSNumber)?.intValue
    }

    static func directory(of path: String) -> String {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue { return path }
        return URL(fileURLWithPath: path).deletingLastPathComponent().path
    }

    static func jsonObject(_ path: String) -> [String: Any]? {
        guard let d = FileManager.default.contents(atPath: path) else { return nil }
        return (try? JSONSerialization.jsonObject(with: d)) as? [String: Any]
    }

    /// The complete JSON description of a safetensors model: every shard's `__metadata__`
    /// and every tensor (name, dtype, shape, shard, data offsets, bytes).
    public static func json(safetensors m: SafeTensorsModel) throws -> String {
        let tensors: [[String: Any]] = m.tensors.map { e in
            ["name": e.name, "dtype": e.info.dtype.rawValue, "shape": e.info.shape, "shard": e.shard,
             "data_offsets": [e.info.dataOffsets.lowerBound, e.info.dataOffsets.upperBound], "bytes": e.info.byteCount]
        }
        let shards: [[String: Any]] = m.shards.map { s in
            ["path": s.path, "header_size": s.headerSize,
             "metadata": Dictionary((s.metadata ?? []).map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })]
        }
        let obj: [String: Any] = ["path": m.path, "format": "safetensors", "shards": shards, "tensors": tensors]
        let data = try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}
