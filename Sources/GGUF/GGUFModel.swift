import QKCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A model stored as one GGUF file or split into shards (`name-00001-of-00003.gguf`, as
/// written by `llama-gguf-split` and `GGUFSplit`), presented as one: the first shard's
/// metadata and the union of every shard's tensors, each with its data view.
///
/// Opening any shard opens them all. The shards are checked the way llama.cpp checks them:
/// every shard present, its `split.no` matching its place and its `split.count` the first
/// one's, no tensor name twice, and the total equal to `split.tensors.count`.
public final class GGUFModel: @unchecked Sendable {
    /// The shards in order (one element for an unsplit file).
    public let shards: [GGUFFile]
    /// Every tensor, shard by shard in file order; `offset` is relative to its own shard's
    /// data section.
    public let tensors: [GGUFTensorInfo]
    /// For each element of `tensors`, the index in `shards` of the file holding it.
    public let tensorShards: [Int]
    /// True for a split model (split.* keys, even with a single shard), false for a plain file.
    public let isSplit: Bool

    private let index: [String: Int]

    /// Opens a single GGUF file, or a split model given the path of any of its shards.
    public convenience init(path: String) throws {
        try self.init(opening: GGUFFile(path: path))
    }

    /// Opens the model `file` belongs to (the other shards are found by file name).
    public init(opening file: GGUFFile) throws {
        guard let count = try Self.splitCount(of: file) else {
            shards = [file]
            tensors = file.tensors
            tensorShards = Array(repeating: 0, count: file.tensors.count)
            index = Dictionary(uniqueKeysWithValues: file.tensors.enumerated().map { ($1.name, $0) })
            isSplit = false
            return
        }
        let number = try Self.intKey(GGUFSplit.noKey, of: file, in: 0 ..< count)
        var files: [GGUFFile?] = Array(repeating: nil, count: count)
        files[number] = file
        if count > 1 {
            guard let name = GGUFSplit.parseShardPath(file.path), name.index == number, name.count == count else {
                let expected = GGUFSplit.shardPath(prefix: "NAME", index: number, count: count)
                throw QuantKitError("shard \(number + 1) of a \(count)-way split model, but its file name does not end like '\(expected)', so the other shards cannot be found", path: file.path)
            }
            for i in 0 ..< count where i != number {
                let p = GGUFSplit.shardPath(prefix: name.prefix, index: i, count: count)
                guard access(p, F_OK) == 0 else {
                    throw QuantKitError("missing shard \(i + 1) of \(count): \(p) does not exist", path: file.path)
                }
                files[i] = try GGUFFile(path: p)
            }
        }
        let all = files.map { $0! }
        let first = all[0]
        let expectedTensors = try Self.intKey(GGUFSplit.tensorsCountKey, of: first, in: 0 ..< Int(Int32.max) + 1)
        var infos: [GGUFTensorInfo] = []
        var owners: [Int] = []
        var names: [String: Int] = [:]
        for (i, f) in all.enumerated() {
            if i > 0 {
                let c = try Self.splitCount(of: f)
                guard c == count else {
                    throw QuantKitError("inconsistent shards: split.count is \(c.map(String.init) ?? "missing") here but \(count) in \(first.path)", path: f.path)
                }
                let no = try Self.intKey(GGUFSplit.noKey, of: f, in: 0 ..< count)
                guard no == i else {
                    throw QuantKitError("inconsistent shards: split.no is \(no) but this is shard \(i + 1) of \(count) (split.no \(i))", path: f.path)
                }
                if f.metadata.contains(key: GGUFSplit.tensorsCountKey) {
                    let n = try Self.intKey(GGUFSplit.tensorsCountKey, of: f, in: 0 ..< Int(Int32.max) + 1)
                    guard n == expectedTensors else {
                        throw QuantKitError("inconsistent shards: split.tensors.count is \(n) here but \(expectedTensors) in \(first.path)", path: f.path)
                    }
                }
            }
            for t in f.tensors {
                if let j = names[t.name] {
                    throw QuantKitError("tensor '\(t.name)' appears in two shards (\(all[owners[j]].path) and this one)", path: f.path)
                }
                names[t.name] = infos.count
                infos.append(t)
                owners.append(i)
            }
        }
        guard infos.count == expectedTensors else {
            throw QuantKitError("split model is incomplete or corrupt: split.tensors.count is \(expectedTensors) but the \(count) shards hold \(infos.count) tensors", path: first.path)
        }
        shards = all
        tensors = infos
        tensorShards = owners
        index = names
        isSplit = true
    }

    /// `split.count` of a file, or nil for a file that is not part of a split (no key, or 0
    /// as `llama-gguf-split --merge` leaves it).
    private static func splitCount(of f: GGUFFile) throws -> Int? {
        guard f.metadata.contains(key: GGUFSplit.countKey) else { return nil }
        let n = try intKey(GGUFSplit.countKey, of: f, in: 0 ..< 65536)
        return n == 0 ? nil : n
    }

    private static func intKey(_ key: String, of f: GGUFFile, in range: Range<Int>) throws -> Int {
        guard let v = f[key] else { throw QuantKitError("split model shard lacks the '\(key)' key", path: f.path) }
        guard let n = v.int, range.contains(n) else {
            throw QuantKitError("'\(key)' must be an integer in \(range.lowerBound)...\(range.upperBound - 1), got \(v.type.name) \(HeaderParser.describe(v))", path: f.path)
        }
        return n
    }

    /// The paths of the shards, in order.
    public var paths: [String] { shards.map(\.path) }
    /// The model's metadata: the first shard's (split.* keys included).
    public var metadata: GGUFMetadata { shards[0].metadata }
    /// The metadata value for `key` (from the first shard).
    public subscript(key: String) -> GGUFValue? { shards[0][key] }
    /// The architecture (`general.architecture`), if present.
    public var architecture: String? { shards[0].architecture }

    /// The tensor info named `name`, if present.
    public func tensor(named name: String) -> GGUFTensorInfo? { index[name].map { tensors[$0] } }

    /// The shard holding the tensor at `index` in `tensors`.
    public func shard(ofTensorAt index: Int) -> GGUFFile { shards[tensorShards[index]] }

    /// The raw bytes of the tensor at `index` in `tensors` (zero-copy, valid while the model lives).
    public func data(at index: Int) -> UnsafeRawBufferPointer {
        let f = shards[tensorShards[index]]
        let t = tensors[index]
        return UnsafeRawBufferPointer(rebasing: f.bytes[f.dataOffset + t.offset ..< f.dataOffset + t.offset + t.byteCount])
    }

    /// The raw bytes of the tensor named `name`, if present.
    public func data(named name: String) -> UnsafeRawBufferPointer? { index[name].map { data(at: $0) } }

    /// The raw bytes of one of `tensors`.
    public func data(of tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        guard let i = index[tensor.name], tensors[i] == tensor else {
            preconditionFailure("\(shards[0].path): tensor '\(tensor.name)' does not belong to this model")
        }
        return data(at: i)
    }
}
