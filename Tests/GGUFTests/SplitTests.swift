import Foundation
import GGUF
import QKCore
import Testing

/// Splitting like llama-gguf-split, opening split models as one, merging back.
@Suite struct SplitTests {
    @Test func splitRealModelIntoThreeShards() throws {
        let path = try Fixtures.model(Fixtures.modelNames[0])
        let src = try GGUFModel(opening: Fixtures.open(Fixtures.modelNames[0]))
        #expect(!src.isSplit && src.shards.count == 1)
        try Fixtures.withTempDir { dir in
            let paths = try GGUFSplit.split(src, outputPrefix: "\(dir)/smol", options: .init(limit: .tensors(100)))
            #expect(paths == (1 ... 3).map { "\(dir)/smol-0000\($0)-of-00003.gguf" })
            #expect(WriterTests.listing(dir).count == 3)

            // Each shard: llama.cpp's split keys, types and order; metadata only in the first.
            for (i, p) in paths.enumerated() {
                let f = try GGUFFile(path: p)
                let tail = Array(f.metadata.suffix(3))
                #expect(tail.map(\.key) == ["split.no", "split.tensors.count", "split.count"])
                #expect(tail.map(\.value) == [.uint16(UInt16(i)), .int32(Int32(src.tensors.count)), .uint16(3)])
                if i == 0 {
                    #expect(Array(f.metadata.dropLast(3)) == Array(src.metadata))
                } else {
                    #expect(f.metadata.count == 3)
                }
                #expect(f.tensors.count == [100, 100, src.tensors.count - 200][i])
                // gguf-py reads every shard, and agrees with us.
                let problems = Agreement.compare(f, try Fixtures.gguf_py("dump", p), label: "gguf-py on shard \(i + 1)")
                #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
            }

            // Opened from any shard: the same model, tensor by tensor.
            var model: GGUFModel?
            for p in [paths[1], paths[2]] {
                let m = try GGUFModel(path: p)
                model = m
                #expect(m.isSplit && m.paths == paths)
                #expect(m.metadata.count == src.metadata.count + 3)
                #expect(m.tensors.map(\.name) == src.tensors.map(\.name))
                #expect(m.tensors.map(\.shape) == src.tensors.map(\.shape))
                #expect(m.tensors.map(\.type) == src.tensors.map(\.type))
                withExtendedLifetime((src, m)) {
                    for i in src.tensors.indices {
                        let a = src.data(at: i), b = m.data(at: i)
                        #expect(a.count == b.count && memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0, "\(src.tensors[i].name)")
                    }
                }
            }
            let m = try #require(model)
            #expect(m.jsonSummary().serialized().contains(#""shard":2"#))

            // Merging the shards gives back the original file, byte for byte.
            try GGUFSplit.merge(m, to: "\(dir)/merged.gguf")
            #expect(try Fixtures.sameBytes(path, "\(dir)/merged.gguf"))
        }
    }

    @Test func planFollowsLlamaGGUFSplit() throws {
        let t = (0 ..< 10).map { GGUFTensorInfo(name: "t\($0)", type: .f32, shape: [$0 == 4 ? 1000 : 10]) }
        // 10 f32 elements = 40 bytes, padded to 64; t4 is 4000 bytes.
        #expect(try GGUFSplit.plan(t, options: .init(limit: .tensors(4))) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]])
        #expect(try GGUFSplit.plan(t, options: .init(limit: .tensors(4), noTensorsInFirstShard: true)) == [[], [0, 1, 2, 3], [4, 5, 6, 7], [8, 9]])
        #expect(try GGUFSplit.plan(t, options: .init(limit: .tensors(128))) == [Array(0 ..< 10)])
        #expect(try GGUFSplit.plan(t, options: .init(limit: .bytes(128))) == [[0, 1], [2, 3], [4], [5, 6], [7, 8], [9]])
        #expect(try GGUFSplit.plan(t, options: .init(limit: .bytes(200))) == [[0, 1, 2], [3], [4], [5, 6, 7], [8, 9]])
        #expect(throws: QuantKitError.self) { try GGUFSplit.plan(t, options: .init(limit: .tensors(0))) }
        #expect(GGUFSplitOptions.parseSize("500M") == 500_000_000)
        #expect(GGUFSplitOptions.parseSize("2G") == 2_000_000_000)
        #expect(GGUFSplitOptions.parseSize("12") == nil && GGUFSplitOptions.parseSize("-1G") == nil && GGUFSplitOptions.parseSize("M") == nil)
    }

    @Test func shardNames() {
        #expect(GGUFSplit.shardPath(prefix: "/m/x", index: 0, count: 3) == "/m/x-00001-of-00003.gguf")
        let p = GGUFSplit.parseShardPath("/m/x-y-00002-of-00003.gguf")
        #expect(p?.prefix == "/m/x-y" && p?.index == 1 && p?.count == 3)
        #expect(GGUFSplit.parseShardPath("/m/x-00004-of-00003.gguf") == nil)
        #expect(GGUFSplit.parseShardPath("/m/x-0002-of-00003.gguf") == nil)
        #expect(GGUFSplit.parseShardPath("-00001-of-00001.gguf") == nil)
        #expect(GGUFSplit.parseShardPath("x.gguf") == nil)
    }

    /// A small model split into 3 shards of 2 tensors each, in `dir`.
    static func smallSplit(_ dir: String) throws -> [String] {
        let tensors = (0 ..< 6).map { GGUFTensorInfo(name: "blk.\($0).w", type: .f32, shape: [4, 2]) }
        try WriterTests.write("\(dir)/src.gguf", metadata: ["general.architecture": .string("tiny")], tensors: tensors)
        let m = try GGUFModel(path: "\(dir)/src.gguf")
        return try GGUFSplit.split(m, outputPrefix: "\(dir)/tiny", options: .init(limit: .tensors(2)))
    }

    /// Rewrites a shard with its metadata or tensors changed.
    static func rewrite(_ path: String, metadata change: (inout GGUFMetadata) -> Void, dropLastTensor: Bool = false, renameFirst: String? = nil) throws {
        let f = try GGUFFile(path: path)
        var md = f.metadata
        change(&md)
        var ts = dropLastTensor ? Array(f.tensors.dropLast()) : f.tensors
        if let renameFirst { ts[0].name = renameFirst }
        let w = try GGUFWriter(path: path, metadata: md, tensors: ts)
        for i in ts.indices { try w.writeTensor(f.data(at: i)) }
        try w.finish()
    }

    @Test func brokenSplitsGiveClearErrors() throws {
        typealias Breakage = (String, [String], String) throws -> (String, String) // (dir, shards, src) -> (open, expected)
        let cases: [Breakage] = [
            { _, s, _ in try FileManager.default.removeItem(atPath: s[2]); return (s[0], "missing shard 3 of 3: \(s[2]) does not exist") },
            { _, s, _ in try FileManager.default.removeItem(atPath: s[0]); return (s[1], "missing shard 1 of 3") },
            { _, s, _ in try Self.rewrite(s[1]) { $0["split.count"] = .uint16(4) }; return (s[0], "split.count is 4 here but 3") },
            { _, s, _ in try Self.rewrite(s[2]) { $0["split.no"] = .uint16(1) }; return (s[0], "split.no is 1 but this is shard 3 of 3") },
            { _, s, _ in try Self.rewrite(s[1]) { $0["split.no"] = nil }; return (s[0], "lacks the 'split.no' key") },
            { _, s, _ in try Self.rewrite(s[1]) { $0["split.tensors.count"] = .int32(7) }; return (s[0], "split.tensors.count is 7 here but 6") },
            { _, s, _ in try Self.rewrite(s[2], metadata: { _ in }, dropLastTensor: true); return (s[0], "split.tensors.count is 6 but the 3 shards hold 5 tensors") },
            { _, s, _ in try Self.rewrite(s[2], metadata: { _ in }, renameFirst: "blk.0.w"); return (s[1], "tensor 'blk.0.w' appears in two shards") },
            { d, s, _ in
                try FileManager.default.copyItem(atPath: s[0], toPath: "\(d)/renamed.gguf")
                return ("\(d)/renamed.gguf", "file name does not end like 'NAME-00001-of-00003.gguf'")
            },
            { _, s, _ in try Self.rewrite(s[0]) { $0["split.count"] = .string("3") }; return (s[0], "'split.count' must be an integer") },
        ]
        for (n, breakIt) in cases.enumerated() {
            try Fixtures.withTempDir { dir in
                let shards = try Self.smallSplit(dir)
                #expect(try GGUFModel(path: shards[0]).tensors.count == 6)
                let (open, expected) = try breakIt(dir, shards, "\(dir)/src.gguf")
                let e = #expect(throws: QuantKitError.self, "case \(n)") { _ = try GGUFModel(path: open) }
                #expect(e?.description.contains(expected) == true, "case \(n): \(e?.description ?? "no error"), expected “\(expected)”")
                #expect(e?.path != nil)
            }
        }
    }

    @Test func singleShardAndMergedFilesOpen() throws {
        try Fixtures.withTempDir { dir in
            let shards = try Self.smallSplit(dir)
            let m = try GGUFModel(path: shards[1])
            // A 1-way split, as llama-gguf-split writes for a small model.
            let one = try GGUFSplit.split(m, outputPrefix: "\(dir)/one", options: .init(limit: .tensors(100)))
            #expect(one == ["\(dir)/one-00001-of-00001.gguf"])
            let single = try GGUFModel(path: one[0])
            #expect(single.isSplit && single.tensors.count == 6)
            // llama-gguf-split --merge leaves split.count = 0: an ordinary file.
            try Self.rewrite(one[0]) { $0["split.count"] = .uint16(0) }
            let merged = try GGUFModel(path: one[0])
            #expect(!merged.isSplit && merged.tensors.count == 6)
            // Merge reproduces the source exactly; a failed merge leaves nothing.
            try GGUFSplit.merge(m, to: "\(dir)/merged.gguf")
            #expect(try Fixtures.sameBytes("\(dir)/src.gguf", "\(dir)/merged.gguf"))
            #expect(throws: QuantKitError.self) { try GGUFSplit.merge(m, to: "\(dir)/no/such/dir/x.gguf") }
        }
    }
}
