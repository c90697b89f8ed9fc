import Foundation
import QKCore
import SafeTensors
import Testing

/// The streaming writer and the sharding helper, on the real MiniLM checkpoint.
@Suite struct WriterTests {
    static func sameBytes(_ a: String, _ b: String) throws -> Bool {
        let x = try MappedFile(path: a), y = try MappedFile(path: b)
        guard x.count == y.count else { return false }
        return try memcmp(x.bytes(at: 0, count: x.count).baseAddress!, y.bytes(at: 0, count: y.count).baseAddress!, x.count) == 0
    }

    @Test func rewriteIsByteIdentical() throws {
        let src = try SafeTensorsFile(path: Support.miniLMFile())
        let dir = try Support.tempDir("roundtrip")
        defer { Support.remove(dir) }
        let specs = src.tensors.map(SafeTensorSpec.init)

        // The reference library's layout order is the file's order.
        #expect(SafeTensorSpec.referenceOrder(specs) == specs)
        // The header text itself matches, padding included.
        let header = SafeTensorsWriter.header(tensors: specs, metadata: src.metadata)
        #expect(header.count == src.headerSize)
        #expect(Array(try src.file.bytes(at: 8, count: src.headerSize)) == header)

        let out = dir + "/copy.safetensors"
        let w = try SafeTensorsWriter(path: out, tensors: specs, metadata: src.metadata)
        #expect(!FileManager.default.fileExists(atPath: out), "nothing at the destination before commit")
        for t in src.tensors { try w.writeTensor(named: t.name, src.data(t)) }
        #expect(w.nextTensor == specs.count)
        try w.commit()
        #expect(try Self.sameBytes(out, src.path))

        // Streaming in odd-sized chunks that straddle tensor boundaries gives the same file.
        let out2 = dir + "/chunks.safetensors"
        let w2 = try SafeTensorsWriter(path: out2, tensors: specs, metadata: src.metadata)
        let all = try src.file.bytes(at: src.dataStart, count: src.dataSize)
        var at = 0, step = 1
        while at < all.count {
            let n = min(step, all.count - at)
            try w2.append(UnsafeRawBufferPointer(rebasing: all[at..<at + n]))
            at += n
            step = step * 7 % 1_000_003 + 1
        }
        try w2.commit()
        #expect(try Self.sameBytes(out2, src.path))
    }

    /// Files written by the reference `safetensors` library itself (every numpy dtype, odd
    /// names, scalars, empty tensors, escaped metadata) are reproduced byte for byte from
    /// their parsed contents. Needs `pip install safetensors`; skipped without it.
    @Test func referenceLibraryFilesAreReproducedExactly() throws {
        let dir = try Support.tempDir("reference-lib")
        defer { Support.remove(dir) }
        let path = dir + "/ref.safetensors"
        let made = String(decoding: try Support.python(["-c", #"""
            import sys
            try:
                import numpy as np
                from safetensors.numpy import save_file
            except ImportError:
                print("missing"); sys.exit(0)
            rng = np.random.default_rng(1)
            t = {}
            for i, dt in enumerate(["f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "?"]):
                t[f"layer.{i}.w\u00e9\"\\" + dt] = (rng.standard_normal((3, i + 1)) * 50).astype(dt)
            t["scalar"] = np.array(2.5, np.float32)
            t["empty"] = np.zeros((0, 7), np.float16)
            t["Upper"] = np.ones(3, np.int64)
            save_file(t, sys.argv[1], metadata={"format": "np", "k\n\t\u0001": "v\u2603\U0001F600", "/": "</>"})
            print("ok")
            """#, path]), as: UTF8.self)
        guard made.hasPrefix("ok") else {
            print("referenceLibraryFilesAreReproducedExactly: skipped (pip install safetensors to run it)")
            return
        }
        let src = try SafeTensorsFile(path: path)
        let specs = src.tensors.map(SafeTensorSpec.init)
        #expect(specs.count == 15)
        #expect(SafeTensorSpec.referenceOrder(specs) == specs)
        #expect(src.headerOrder == specs.map(\.name))
        #expect(SafeTensorsWriter.header(tensors: specs, metadata: src.metadata) == Array(try src.file.bytes(at: 8, count: src.headerSize)))
        let out = dir + "/copy.safetensors"
        let w = try SafeTensorsWriter(path: out, tensors: SafeTensorSpec.referenceOrder(specs.reversed()), metadata: src.metadata)
        for t in src.tensors { try w.writeTensor(named: t.name, src.data(t)) }
        try w.commit()
        #expect(try Self.sameBytes(out, path))
        try Support.compare(Support.reference(path)) { name in
            let info = try src.info(name)
            return (info, try src.data(info))
        }
    }

    @Test func writerRejectsMisuse() throws {
        let dir = try Support.tempDir("misuse")
        defer { Support.remove(dir) }
        let a = try SafeTensorSpec(name: "a", dtype: .f32, shape: [2])
        let b = try SafeTensorSpec(name: "b", dtype: .f16, shape: [3])
        let e = try SafeTensorSpec(name: "empty", dtype: .f32, shape: [0, 5])
        #expect(e.byteCount == 0)
        #expect(throws: QuantKitError.self) { try SafeTensorSpec(name: "n", dtype: .f32, shape: [-1]) }
        #expect(throws: QuantKitError.self) { try SafeTensorSpec(name: "n", dtype: .f32, shape: [1 << 40, 1 << 40]) }
        #expect(throws: QuantKitError.self) { try SafeTensorsWriter(path: dir + "/d", tensors: [a, a]) }
        #expect(throws: QuantKitError.self) {
            try SafeTensorsWriter(path: dir + "/m", tensors: [try SafeTensorSpec(name: "__metadata__", dtype: .u8, shape: [])])
        }

        let path = dir + "/x.safetensors"
        let w = try SafeTensorsWriter(path: path, tensors: [a, e, b], metadata: [("k", "v\u{1}\"é")])
        let eight = [UInt8](repeating: 1, count: 8), six = [UInt8](repeating: 2, count: 6)
        six.withUnsafeBytes { buf in _ = #expect(throws: QuantKitError.self) { try w.writeTensor(named: "b", buf) } }
        six.withUnsafeBytes { buf in _ = #expect(throws: QuantKitError.self) { try w.writeTensor(named: "a", buf) } }
        try eight.withUnsafeBytes { try w.writeTensor(named: "a", $0) }
        #expect(w.nextTensor == 1)
        try w.writeTensor(named: "empty", UnsafeRawBufferPointer(start: nil, count: 0))
        #expect(throws: QuantKitError.self) { try w.commit() }
        try six.withUnsafeBytes { try w.writeTensor(named: "b", $0) }
        eight.withUnsafeBytes { buf in _ = #expect(throws: QuantKitError.self) { try w.append(buf) } }
        try w.commit()

        let f = try SafeTensorsFile(path: path)
        #expect(f.tensors.map(\.name) == ["a", "empty", "b"])
        #expect(f.metadataDictionary == ["k": "v\u{1}\"é"])
        #expect(Array(try f.data("b")) == six)
        #expect(f["empty"]?.shape == [0, 5])
        let ref = try Support.reference(path)
        #expect(ref.metadata == ["k": "v\u{1}\"é"])
        #expect(ref.tensors.map(\.name) == ["a", "empty", "b"])

        // An abandoned writer leaves nothing behind.
        do {
            let w = try SafeTensorsWriter(path: dir + "/abandoned.safetensors", tensors: [a])
            try eight.withUnsafeBytes { try w.append(UnsafeRawBufferPointer(rebasing: $0[0..<4])) }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["x.safetensors"])
    }

    @Test func shardedRoundTrip() throws {
        let src = try SafeTensorsFile(path: Support.miniLMFile())
        let dir = try Support.tempDir("shards")
        defer { Support.remove(dir) }
        let specs = src.tensors.map(SafeTensorSpec.init)
        let limit = 44 << 20
        #expect(SafeTensorsSharding.plan(specs, maxShardSize: limit).count == 3)

        let paths = try SafeTensorsSharding.write(directory: dir, tensors: specs, metadata: src.metadata, maxShardSize: limit) { i, w in
            try w.writeTensor(named: specs[i].name, src.data(src.tensors[i]))
        }
        let names = paths.map { ($0 as NSString).lastPathComponent }
        #expect(names == ["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                          "model-00003-of-00003.safetensors", "model.safetensors.index.json"])

        // The index is exactly what transformers would write for it.
        let indexPath = dir + "/model.safetensors.index.json"
        let text = try String(contentsOfFile: indexPath, encoding: .utf8)
        let canonical = try Support.python(["-c", """
            import json, sys
            sys.stdout.write(json.dumps(json.load(open(sys.argv[1])), indent=2, sort_keys=True) + "\\n")
            """, indexPath])
        #expect(text == String(decoding: canonical, as: UTF8.self))

        // Reopened (by directory and by index), the model holds the same tensors, byte for byte.
        for path in [dir, indexPath] {
            let model = try SafeTensorsModel(path: path)
            #expect(model.shards.count == 3)
            #expect(model.totalSize == src.dataSize)
            #expect(model.tensors.count == src.tensors.count)
            #expect(Set(model.tensors.map(\.name)) == Set(src.tensors.map(\.name)))
            for t in src.tensors {
                let a = try model.data(t.name), b = try src.data(t)
                #expect(a.count == b.count && memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0, "\(t.name)")
                #expect(model[t.name]?.info.shape == t.shape)
            }
        }

        // The reference reader sees the same tensors and values as in the original file.
        let original = try Support.reference(src.path)
        let sharded = try Support.reference(dir)
        #expect(sharded.index_total_size == src.dataSize)
        let byName = Dictionary(uniqueKeysWithValues: sharded.tensors.map { ($0.name, $0) })
        for r in original.tensors {
            #expect(byName[r.name]?.checksum == r.checksum && byName[r.name]?.shape == r.shape, "\(r.name)")
        }
        #expect(Set(sharded.tensors.map(\.file)).count == 3)
    }

    @Test func shardedCheckpointErrors() throws {
        let src = try SafeTensorsFile(path: Support.miniLMFile())
        let dir = try Support.tempDir("shard-errors")
        defer { Support.remove(dir) }
        // Three small shards from the LayerNorm tensors.
        let picked = src.tensors.filter { $0.name.contains("LayerNorm") }.prefix(6)
        let specs = picked.map(SafeTensorSpec.init)
        try SafeTensorsSharding.write(directory: dir, tensors: Array(specs), metadata: src.metadata, maxShardSize: 3072) { i, w in
            try w.writeTensor(named: specs[i].name, src.data(picked[picked.startIndex + i]))
        }
        let index = dir + "/model.safetensors.index.json"
        let good = try String(contentsOfFile: index, encoding: .utf8)
        #expect(try SafeTensorsModel(path: dir).shards.count == 3)

        func expectError(_ indexText: String, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            try indexText.write(toFile: index, atomically: true, encoding: .utf8)
            do {
                _ = try SafeTensorsModel(path: dir)
                Issue.record("expected an error mentioning \"\(fragment)\"", sourceLocation: sourceLocation)
            } catch let e as QuantKitError {
                #expect(e.description.contains(fragment), "\(e)", sourceLocation: sourceLocation)
                #expect(e.path != nil, sourceLocation: sourceLocation)
            }
        }
        // A tensor the index places in the wrong shard.
        let first = specs[0].name
        try expectError(good.replacingOccurrences(of: "\"\(first)\": \"model-00001-of-00003.safetensors\"",
                                                  with: "\"\(first)\": \"model-00002-of-00003.safetensors\""),
                        "but that shard does not contain it")
        try expectError(good.replacingOccurrences(of: "model-00003-of-00003", with: "../model-00003-of-00003"), "unsafe shard path")
        try expectError(good.replacingOccurrences(of: "\"weight_map\"", with: "\"weights\""), "no \"weight_map\"")
        try expectError("{\"weight_map\": {\"a\": \"x.safetensors\", \"a\": \"y.safetensors\"}}", "duplicate key")
        try expectError("{\"weight_map\": {\"a\": 3}}", "must be a file name")
        try expectError("[1,", "invalid JSON in index")
        // A shard that is missing.
        try good.write(toFile: index, atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: dir + "/model-00002-of-00003.safetensors")
        try expectError(good, "missing shard model-00002-of-00003.safetensors")
        // No index, several files.
        try FileManager.default.removeItem(atPath: index)
        #expect(throws: QuantKitError.self) { try SafeTensorsModel(path: dir) }
        #expect(throws: QuantKitError.self) { try SafeTensorsModel(path: dir + "/nonexistent") }
    }
}
