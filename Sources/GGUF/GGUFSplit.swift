import QKCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How to cut a model into shards, as `llama-gguf-split --split` does.
public struct GGUFSplitOptions: Sendable, Equatable {
    /// What bounds one shard.
    public enum Limit: Sendable, Equatable {
        /// At most this many tensors per shard (`--split-max-tensors N`).
        case tensors(Int)
        /// At most this many bytes of tensor data per shard (`--split-max-size N[M|G]`),
        /// counting each tensor padded to 32 bytes and not the header, as llama.cpp does. A
        /// tensor larger than the limit gets a shard of its own.
        case bytes(Int)
    }

    public var limit: Limit
    /// Put only metadata in the first shard (`--no-tensor-first-split`).
    public var noTensorsInFirstShard: Bool

    /// llama-gguf-split's default is 128 tensors per shard.
    public init(limit: Limit = .tensors(128), noTensorsInFirstShard: Bool = false) {
        self.limit = limit
        self.noTensorsInFirstShard = noTensorsInFirstShard
    }

    /// Parses a size the way `--split-max-size` does: a positive integer followed by M
    /// (10^6 bytes) or G (10^9 bytes). Nil if malformed.
    public static func parseSize(_ text: String) -> Int? {
        guard let unit = text.last, let n = Int(text.dropLast()), n > 0 else { return nil }
        let scale: Int
        switch unit {
        case "M", "m": scale = 1_000_000
        case "G", "g": scale = 1_000_000_000
        default: return nil
        }
        let (r, o) = n.multipliedReportingOverflow(by: scale)
        return o ? nil : r
    }
}

/// Splitting a model into shards and merging shards back, compatible with llama.cpp's
/// `llama-gguf-split`.
///
/// Shards are named `PREFIX-00001-of-00003.gguf`. The first holds all the model's metadata,
/// the others none (apart from `general.alignment` when it is not the default); each ends its
/// metadata with `split.no` (UINT16, 0-based), `split.tensors.count` (INT32, the model's total)
/// and `split.count` (UINT16), in llama-gguf-split's order, so our shards are byte-identical to
/// llama.cpp's, llama.cpp loads ours and `GGUFModel` loads llama.cpp's.
public enum GGUFSplit {
    /// Key holding the 0-based shard number (UINT16).
    public static let noKey = "split.no"
    /// Key holding the number of shards (UINT16).
    public static let countKey = "split.count"
    /// Key holding the number of tensors in the whole model (INT32).
    public static let tensorsCountKey = "split.tensors.count"
    /// The keys the split machinery owns.
    public static let keys: Set<String> = [noKey, countKey, tensorsCountKey]

    /// The path of shard `index` (0-based) of `count`: `PREFIX-00001-of-00003.gguf`.
    public static func shardPath(prefix: String, index: Int, count: Int) -> String {
        "\(prefix)-\(fiveDigits(index + 1))-of-\(fiveDigits(count)).gguf"
    }

    private static func fiveDigits(_ n: Int) -> String {
        let s = String(n)
        return s.count >= 5 ? s : String(repeating: "0", count: 5 - s.count) + s
    }

    /// Recognises a shard path: the prefix, the 0-based index and the count
    /// (`m-00002-of-00003.gguf` gives `("m", 1, 3)`), or nil if the name has another form.
    public static func parseShardPath(_ path: String) -> (prefix: String, index: Int, count: Int)? {
        let u = Array(path.utf8)
        let suffix = 20 // "-00002-of-00003.gguf"
        guard u.count > suffix else { return nil }
        let s = u[(u.count - suffix)...].map { Character(UnicodeScalar($0)) }
        func digits(_ r: Range<Int>) -> Int? {
            let d = s[r]
            guard d.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            return Int(String(d))
        }
        guard s[0] == "-", String(s[6 ..< 10]) == "-of-", String(s[15...]) == ".gguf",
              let no = digits(1 ..< 6), let count = digits(10 ..< 15), no >= 1, no <= count else { return nil }
        guard let prefix = String(validating: u[..<(u.count - suffix)], as: UTF8.self) else { return nil }
        return (prefix, no - 1, count)
    }

    /// Which tensors (indices into `tensors`) go into each shard, decided as
    /// llama-gguf-split decides (shard boundaries identical for the same options).
    public static func plan(_ tensors: [GGUFTensorInfo], options: GGUFSplitOptions) throws -> [[Int]] {
        switch options.limit {
        case .tensors(let n) where n <= 0: throw QuantKitError("split: the tensor limit must be positive, got \(n)")
        case .bytes(let n) where n <= 0: throw QuantKitError("split: the size limit must be positive, got \(n)")
        default: break
        }
        var shards: [[Int]] = [[]]
        if options.noTensorsInFirstShard { shards.append([]) }
        var size = 0
        for (i, t) in tensors.enumerated() {
            let n = padded(t.byteCount, GGUFFile.defaultAlignment)
            let full: Bool
            switch options.limit {
            case .tensors(let max): full = shards[shards.count - 1].count >= max
            case .bytes(let max): full = size + n > max
            }
            if full && !shards[shards.count - 1].isEmpty {
                shards.append([i])
                size = n
            } else {
                shards[shards.count - 1].append(i)
                size += n
            }
        }
        guard shards.count <= Int(UInt16.max) else {
            throw QuantKitError("split: \(shards.count) shards is more than the format allows (\(UInt16.max))")
        }
        return shards
    }

    /// Writes `model` (a file or an already split model) as shards `PREFIX-0000i-of-0000n.gguf`
    /// and returns their paths. All shards are written to temporary files first and renamed
    /// into place only when every one is complete, so a failure leaves none behind.
    @discardableResult
    public static func split(_ model: GGUFModel, outputPrefix prefix: String, options: GGUFSplitOptions = .init()) throws -> [String] {
        let plan = try plan(model.tensors, options: options)
        guard model.tensors.count <= Int(Int32.max) else { throw QuantKitError("split: too many tensors (\(model.tensors.count))") }
        var base = model.metadata
        for k in keys { base.removeValue(forKey: k) }
        let alignment = model.shards[0].alignment
        var writers: [GGUFWriter] = []
        var paths: [String] = []
        for (s, members) in plan.enumerated() {
            var md: GGUFMetadata = s == 0 ? base : [:]
            if s > 0, alignment != GGUFFile.defaultAlignment { md["general.alignment"] = .uint32(UInt32(alignment)) }
            // llama-gguf-split's order: it sets split.count last (a placeholder first, then the
            // real value, which moves the key to the end).
            md[noKey] = .uint16(UInt16(s))
            md[tensorsCountKey] = .int32(Int32(model.tensors.count))
            md[countKey] = .uint16(UInt16(plan.count))
            let path = shardPath(prefix: prefix, index: s, count: plan.count)
            let w = try GGUFWriter(path: path, metadata: md, tensors: members.map { model.tensors[$0] },
                                   version: model.shards[0].version, bufferSize: 1 << 20)
            for i in members { try w.writeTensor(model.data(at: i)) }
            try w.prepareCommit()
            writers.append(w)
            paths.append(path)
        }
        var committed: [String] = []
        do {
            for w in writers {
                try w.finish()
                committed.append(w.path)
            }
        } catch {
            for p in committed { unlink(p) }
            throw error
        }
        return paths
    }

    /// Writes the shards of `model` as one file at `path`: the first shard's metadata without
    /// the split.* keys, then every tensor in shard order. Merging the shards of a split file
    /// reproduces that file byte for byte. (llama-gguf-split --merge instead keeps the split
    /// keys with split.count = 0; `GGUFModel` reads both as unsplit.)
    public static func merge(_ model: GGUFModel, to path: String) throws {
        var md = model.metadata
        for k in keys { md.removeValue(forKey: k) }
        let w = try GGUFWriter(path: path, metadata: md, tensors: model.tensors, version: model.shards[0].version)
        for i in model.tensors.indices { try w.writeTensor(model.data(at: i)) }
        try w.finish()
    }
}
