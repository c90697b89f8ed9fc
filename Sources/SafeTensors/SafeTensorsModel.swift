import Foundation
import QKCore

/// A whole Hugging Face checkpoint: one safetensors file, or the shards named by a
/// `*.safetensors.index.json`, presented as one set of tensors.
///
/// Each shard is mapped once. The index's `weight_map` is checked against the shards: a
/// missing shard file, or a tensor the index places in a shard that does not hold it, is an
/// error naming both. Tensors a shard holds but the index does not list are still included
/// (the files are the ground truth for what exists); a name held by two shards is an error.
public final class SafeTensorsModel: @unchecked Sendable {
    /// Where one tensor lives.
    public struct Entry: Sendable, Hashable {
        /// The tensor as its shard's header describes it.
        public let info: SafeTensorInfo
        /// Index into `shards`.
        public let shard: Int
        public var name: String { info.name }
    }

    /// The path the model was opened with.
    public let path: String
    /// The index file, when the checkpoint is sharded.
    public let indexPath: String?
    /// The shards (a single file when not sharded), sorted by file name.
    public let shards: [SafeTensorsFile]
    /// All tensors: shard by shard, each in file-offset order.
    public let tensors: [Entry]
    /// The index's `"metadata"` object (nil when not sharded or absent).
    public let indexMetadata: JSONValue?
    private let byName: [String: Int]

    /// Largest index file accepted (real ones are well under 1 MB).
    public static let maxIndexSize = 64 << 20

    /// Opens a checkpoint. `path` may be:
    /// - a directory holding `model.safetensors.index.json` or `model.safetensors` (or, failing
    ///   those, exactly one `*.safetensors.index.json` or exactly one `*.safetensors`);
    /// - an index file (`*.index.json`);
    /// - a single `.safetensors` file.
    public init(path: String) throws {
        self.path = path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw QuantKitError("no such file or directory", path: path)
        }
        var target = path
        if isDir.boolValue {
            target = try Self.locate(inDirectory: path)
        }
        if target.hasSuffix(".json") {
            indexPath = target
            (shards, indexMetadata, tensors) = try Self.openIndex(target)
        } else {
            indexPath = nil
            indexMetadata = nil
            let f = try SafeTensorsFile(path: target)
            shards = [f]
            tensors = f.tensors.map { Entry(info: $0, shard: 0) }
        }
        var byName: [String: Int] = [:]
        byName.reserveCapacity(tensors.count)
        for (i, e) in tensors.enumerated() { byName[e.name] = i }
        self.byName = byName
    }

    /// Picks the file to open in a checkpoint directory.
    private static func locate(inDirectory dir: String) throws -> String {
        let fm = FileManager.default
        for name in ["model.safetensors.index.json", "model.safetensors"] where fm.fileExists(atPath: dir + "/" + name) {
            return dir + "/" + name
        }
        let names: [String]
        do { names = try fm.contentsOfDirectory(atPath: dir) } catch {
            throw QuantKitError("cannot list directory: \(error.localizedDescription)", path: dir)
        }
        let indexes = names.filter { $0.hasSuffix(".safetensors.index.json") }.sorted()
        if indexes.count == 1 { return dir + "/" + indexes[0] }
        if indexes.count > 1 {
            throw QuantKitError("several index files (\(indexes.joined(separator: ", "))); open one of them directly", path: dir)
        }
        let files = names.filter { $0.hasSuffix(".safetensors") }.sorted()
        if files.count == 1 { return dir + "/" + files[0] }
        if files.isEmpty { throw QuantKitError("no .safetensors file or index in this directory", path: dir) }
        throw QuantKitError("several .safetensors files but no index (\(files.prefix(5).joined(separator: ", "))\(files.count > 5 ? ", …" : ""))", path: dir)
    }

    private static func openIndex(_ indexPath: String) throws -> ([SafeTensorsFile], JSONValue?, [Entry]) {
        func fail(_ m: String) -> QuantKitError { QuantKitError(m, path: indexPath) }
        let mapped = try MappedFile(path: indexPath)
        guard mapped.count <= maxIndexSize else { throw fail("index is \(mapped.count) bytes, over the \(maxIndexSize)-byte limit") }
        let json = try JSONParser.parse(mapped.bytes(at: 0, count: mapped.count), path: indexPath, what: "index")
        guard case .object = json else { throw fail("index is not a JSON object") }
        guard let wm = json["weight_map"] else { throw fail("index has no \"weight_map\"") }
        guard case .object(let pairs) = wm else { throw fail("\"weight_map\" must be an object, found \(wm.kindName)") }
        guard !pairs.isEmpty else { throw fail("\"weight_map\" is empty") }
        let meta = json["metadata"]

        // Shard name → tensor names the index places there.
        var listed: [String: [String]] = [:]
        for (tensor, v) in pairs {
            guard case .string(let shard) = v else {
                throw fail("weight_map entry for '\(JSONParser.printable(tensor))' must be a file name, found \(v.kindName)")
            }
            try checkShardName(shard, indexPath)
            listed[shard, default: []].append(tensor)
        }
        let dir: String = indexPath.lastIndex(of: "/").map { String(indexPath[..<$0]) } ?? "."
        let shardNames = listed.keys.sorted()
        var shards: [SafeTensorsFile] = []
        var entries: [Entry] = []
        var owner: [String: String] = [:]
        for (k, shardName) in shardNames.enumerated() {
            let shardPath = (dir.isEmpty ? "" : dir + "/") + shardName
            let names = listed[shardName]!
            guard FileManager.default.fileExists(atPath: shardPath) else {
                throw fail("missing shard \(shardName) (the index places \(names.count) tensor\(names.count == 1 ? "" : "s") there, e.g. '\(JSONParser.printable(names[0]))')")
            }
            let file = try SafeTensorsFile(path: shardPath)
            for name in names where file[name] == nil {
                throw fail("tensor '\(JSONParser.printable(name))' is listed in the index for \(shardName), but that shard does not contain it")
            }
            for t in file.tensors {
                if let other = owner[t.name] {
                    throw fail("tensor '\(JSONParser.printable(t.name))' is present in both \(other) and \(shardName)")
                }
                owner[t.name] = shardName
                entries.append(Entry(info: t, shard: k))
            }
            shards.append(file)
        }
        return (shards, meta, entries)
    }

    /// Rejects shard names that could escape the checkpoint directory.
    private static func checkShardName(_ name: String, _ indexPath: String) throws {
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        guard !name.isEmpty, !name.hasPrefix("/"), !name.contains("\0"),
              !parts.contains(where: { $0 == ".." || $0.isEmpty }) else {
            throw QuantKitError("weight_map names an unsafe shard path \"\(JSONParser.printable(name))\"", path: indexPath)
        }
    }

    /// The index's `metadata.total_size`, when present.
    public var totalSize: Int? { indexMetadata?["total_size"]?.intValue }

    /// `__metadata__` of the first shard (Hugging Face writes the same in every shard).
    public var metadata: SafeTensorsMetadata? { shards.first?.metadata }

    /// The tensor named `name`, or nil.
    public subscript(name: String) -> Entry? { byName[name].map { tensors[$0] } }

    /// The tensor named `name`, or an error naming the model and the tensor.
    public func entry(_ name: String) throws -> Entry {
        guard let e = self[name] else { throw QuantKitError("no tensor named '\(JSONParser.printable(name))'", path: indexPath ?? path) }
        return e
    }

    /// The shard holding `entry`.
    public func file(for entry: Entry) -> SafeTensorsFile { shards[entry.shard] }

    /// The raw bytes of the tensor named `name` (zero-copy; valid while `self` lives).
    public func data(_ name: String) throws -> UnsafeRawBufferPointer {
        let e = try entry(name)
        return try shards[e.shard].data(e.info)
    }

    /// Converts the tensor named `name` to F32 into `destination` (exactly `elementCount`
    /// values).
    public func convertToF32(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws {
        let e = try entry(name)
        try shards[e.shard].convertToF32(name, into: destination)
    }
}
