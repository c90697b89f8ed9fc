#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import QKCore

/// Splitting a checkpoint into Hugging Face style shards:
/// `model-00001-of-00003.safetensors` … plus `model.safetensors.index.json`.
public enum SafeTensorsSharding {
    /// Groups tensors (kept in order) into shards of at most `maxShardSize` data bytes, the
    /// way `huggingface_hub.split_torch_state_dict_into_shards` does: a new shard starts when
    /// the next tensor would not fit; a tensor larger than the limit gets a shard of its own.
    /// Returns, per shard, indices into `tensors`. Empty input gives no shards.
    public static func plan(_ tensors: [SafeTensorSpec], maxShardSize: Int) -> [[Int]] {
        var shards: [[Int]] = []
        var current: [Int] = []
        var size = 0
        for (i, t) in tensors.enumerated() {
            if !current.isEmpty && t.byteCount > maxShardSize - size {
                shards.append(current)
                current = []
                size = 0
            }
            current.append(i)
            size += t.byteCount
        }
        if !current.isEmpty { shards.append(current) }
        return shards
    }

    /// The file name of shard `index` (0-based) of `count`, e.g. "model-00001-of-00003.safetensors".
    public static func shardFileName(index: Int, count: Int, baseName: String = "model") -> String {
        func five(_ v: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, 5 - s.count)) + s
        }
        return "\(baseName)-\(five(index + 1))-of-\(five(count)).safetensors"
    }

    /// The text of an index file as `transformers` writes it (`json.dumps(indent=2,
    /// sort_keys=True)` plus a newline): `metadata.total_size` and the sorted `weight_map`.
    public static func indexJSON(weightMap: [(tensor: String, file: String)], totalSize: Int) -> String {
        let sorted = weightMap.sorted { codePointLess($0.tensor, $1.tensor) }
        var s = "{\n  \"metadata\": {\n    \"total_size\": \(totalSize)\n  },\n  \"weight_map\": {"
        s += sorted.isEmpty ? "}" : "\n" + sorted.map {
            "    " + JSONText.quoted($0.tensor, asciiOnly: true) + ": " + JSONText.quoted($0.file, asciiOnly: true)
        }.joined(separator: ",\n") + "\n  }"
        return s + "\n}\n"
    }

    /// Writes `tensors` as a sharded checkpoint in `directory` (which must exist).
    ///
    /// `data(i, writer)` is called once per tensor, in order, and must write exactly the
    /// data of `tensors[i]` into `writer` (e.g. with `writeTensor(named:_:)`). Every shard gets
    /// `metadata`. With one shard the result is a plain `<baseName>.safetensors` and no index,
    /// as `transformers` does. Shards are committed as they complete and the index last; on
    /// failure the shards this call already wrote are removed again.
    /// - Returns: the paths written (shards, then the index if any).
    @discardableResult
    public static func write(directory: String, tensors: [SafeTensorSpec], metadata: SafeTensorsMetadata? = nil,
                             maxShardSize: Int, baseName: String = "model",
                             data: (Int, SafeTensorsWriter) throws -> Void) throws -> [String] {
        guard maxShardSize > 0 else { throw QuantKitError("maximum shard size must be positive", path: directory) }
        guard !tensors.isEmpty else { throw QuantKitError("no tensors to write", path: directory) }
        let groups = plan(tensors, maxShardSize: maxShardSize)
        var written: [String] = []
        var committed = false
        defer { if !committed { for p in written { unlink(p) } } }
        var weightMap: [(tensor: String, file: String)] = []
        var total = 0
        for (k, group) in groups.enumerated() {
            let name = groups.count == 1 ? "\(baseName).safetensors" : shardFileName(index: k, count: groups.count, baseName: baseName)
            let path = directory + "/" + name
            let writer = try SafeTensorsWriter(path: path, tensors: group.map { tensors[$0] }, metadata: metadata)
            for i in group {
                try data(i, writer)
                weightMap.append((tensors[i].name, name))
                total += tensors[i].byteCount
            }
            try writer.commit()
            written.append(path)
        }
        if groups.count > 1 {
            let indexPath = directory + "/\(baseName).safetensors.index.json"
            let out = try OutputFile(path: indexPath)
            try out.write(Array(indexJSON(weightMap: weightMap, totalSize: total).utf8))
            try out.commit()
            written.append(indexPath)
        }
        committed = true
        return written
    }
}
