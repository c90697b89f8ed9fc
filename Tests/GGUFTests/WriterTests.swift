import Foundation
import GGUF
import QKCore
import Testing

/// GGUFWriter on small declared models: exact value types, layout and padding, streaming in
/// chunks, and its errors (with nothing left on disk after a failure).
@Suite struct WriterTests {
    /// One value of each of the 13 GGUF types, arrays of each, empty and nested arrays, and
    /// values at the edges (NaN payloads, -0.0, extremes, non-ASCII strings).
    static let everyType: [(String, GGUFValue)] = [
        ("u8", .uint8(255)), ("i8", .int8(-128)), ("u16", .uint16(65535)), ("i16", .int16(-32768)),
        ("u32", .uint32(.max)), ("i32", .int32(.min)), ("f32", .float32(-0.0)), ("bool", .bool(true)),
        ("str", .string("héllo \u{1F600} \"quoted\"\n\u{0}")), ("u64", .uint64(.max)), ("i64", .int64(.min)),
        ("f64", .float64(.pi)), ("f32.nan", .float32(Float(bitPattern: 0x7FC0_1234))), ("f32.inf", .float32(-.infinity)),
        ("a.u8", .array(.uint8([0, 1, 255]))), ("a.i8", .array(.int8([-1, 2]))), ("a.u16", .array(.uint16([1, 65535]))),
        ("a.i16", .array(.int16([-2, 3]))), ("a.u32", .array(.uint32([4_000_000_000]))), ("a.i32", .array(.int32([-5, 6]))),
        ("a.f32", .array(.float32([1.5, -2.25, 1e-20, 3e38]))), ("a.bool", .array(.bool([true, false, true]))),
        ("a.str", .array(.string(["", "a", "ünïcödé", "<|im_start|>"]))), ("a.u64", .array(.uint64([0, .max]))),
        ("a.i64", .array(.int64([.min, .max]))), ("a.f64", .array(.float64([1e300, -1e-300]))),
        ("a.empty.str", .array(.string([]))), ("a.empty.f32", .array(.float32([]))),
        ("a.nested", .array(.array([.int32([1, 2]), .string(["x"]), .array([.uint8([7])]), .float32([])]))),
    ]

    static func sampleTensors() -> [GGUFTensorInfo] {
        [GGUFTensorInfo(name: "a.f32", type: .f32, shape: [3]),
         GGUFTensorInfo(name: "b.q4_k", type: .q4_K, shape: [256, 2]),
         GGUFTensorInfo(name: "c.empty", type: .f16, shape: [8, 0]),
         GGUFTensorInfo(name: "d.scalar", type: .i8, shape: []),
         GGUFTensorInfo(name: "e.q8_0", type: .q8_0, shape: [32, 1, 1, 3])]
    }

    static func bytes(for t: GGUFTensorInfo, seed: UInt8) -> [UInt8] {
        (0 ..< t.byteCount).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
    }

    static func write(_ path: String, metadata: GGUFMetadata = GGUFMetadata(everyType.map { .init(key: $0.0, value: $0.1) }),
                      tensors: [GGUFTensorInfo] = sampleTensors(), version: UInt32 = 3) throws {
        let w = try GGUFWriter(path: path, metadata: metadata, tensors: tensors, version: version)
        for (i, t) in tensors.enumerated() { try w.writeTensor(named: t.name, bytes(for: t, seed: UInt8(i))) }
        try w.finish()
    }

    static func listing(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
    }

    @Test(arguments: [UInt32(3), 2])
    func everyValueTypeRoundTrips(version: UInt32) throws {
        try Fixtures.withTempDir { dir in
            let md = GGUFMetadata(Self.everyType.map { .init(key: $0.0, value: $0.1) })
            try Self.write("\(dir)/m.gguf", metadata: md, version: version)
            let f = try GGUFFile(path: "\(dir)/m.gguf")
            #expect(f.version == version)
            #expect(f.metadata == md)
            #expect(f.metadata.keys == Self.everyType.map(\.0))
            for (k, v) in Self.everyType { #expect(f[k] == v, "\(k)") }
            #expect(f["f32.nan"]?.double?.isNaN == true)
            for (i, t) in Self.sampleTensors().enumerated() {
                #expect(f.tensors[i].name == t.name && f.tensors[i].shape == t.shape && f.tensors[i].type == t.type)
                #expect(Array(f.data(at: i)) == Self.bytes(for: t, seed: UInt8(i)))
            }
            // And the copy is byte-identical.
            try GGUFWriter.copy(f, to: "\(dir)/copy.gguf")
            #expect(try Fixtures.sameBytes("\(dir)/m.gguf", "\(dir)/copy.gguf"))
        }
    }

    @Test func paddingAndOffsetsMatchGGML() throws {
        try Fixtures.withTempDir { dir in
            for align in [UInt32(32), 64, 1] {
                let path = "\(dir)/a\(align).gguf"
                try Self.write(path, metadata: ["general.alignment": .uint32(align), "x": .string("y")])
                let f = try GGUFFile(path: path)
                #expect(f.alignment == Int(align))
                #expect(f.dataOffset % Int(align) == 0 && f.dataOffset - f.headerSize < Int(align))
                #expect(f.isCanonicalLayout)
                var expected = 0
                for (i, t) in f.tensors.enumerated() {
                    #expect(t.offset == expected)
                    expected = (t.offset + t.byteCount + Int(align) - 1) / Int(align) * Int(align)
                    // Padding after each tensor (the last included) is zeros.
                    let padStart = f.dataOffset + t.offset + t.byteCount
                    let padEnd = i + 1 < f.tensors.count ? f.dataOffset + f.tensors[i + 1].offset : f.fileSize
                    #expect(f.bytes[padStart ..< padEnd].allSatisfy { $0 == 0 })
                }
                #expect(f.fileSize == f.dataOffset + expected)
                withExtendedLifetime(f) { #expect(f.bytes[f.headerSize ..< f.dataOffset].allSatisfy { $0 == 0 }) }
            }
        }
    }

    @Test func chunkedAppendEqualsWholeTensorWrites() throws {
        try Fixtures.withTempDir { dir in
            try Self.write("\(dir)/whole.gguf")
            let tensors = Self.sampleTensors()
            let w = try GGUFWriter(path: "\(dir)/chunks.gguf", metadata: GGUFMetadata(Self.everyType.map { .init(key: $0.0, value: $0.1) }), tensors: tensors)
            for (i, t) in tensors.enumerated() {
                let b = Self.bytes(for: t, seed: UInt8(i))
                var at = 0
                while at < b.count {
                    let n = min(7, b.count - at)
                    try b[at ..< at + n].withUnsafeBytes { try w.append($0) }
                    at += n
                }
            }
            try w.finish()
            #expect(try Fixtures.sameBytes("\(dir)/whole.gguf", "\(dir)/chunks.gguf"))
        }
    }

    @Test func noTensorsPaddingFollowsTheSource() throws {
        try Fixtures.withTempDir { dir in
            let md: GGUFMetadata = ["general.architecture": .string("x")]
            let padded = try GGUFWriter(path: "\(dir)/p.gguf", metadata: md, tensors: [])
            try padded.finish()
            let plain = try GGUFWriter(path: "\(dir)/n.gguf", metadata: md, tensors: [], padEmptyDataSection: false)
            try plain.finish()
            let p = try GGUFFile(path: "\(dir)/p.gguf"), n = try GGUFFile(path: "\(dir)/n.gguf")
            #expect(p.fileSize == p.dataOffset && p.fileSize % 32 == 0)
            #expect(n.fileSize == n.headerSize)
            for (f, name) in [(p, "p"), (n, "n")] {
                try GGUFWriter.copy(f, to: "\(dir)/\(name)2.gguf")
                #expect(try Fixtures.sameBytes("\(dir)/\(name).gguf", "\(dir)/\(name)2.gguf"))
            }
        }
    }

    /// Each misuse fails with a clear error, and afterwards the directory holds no output and
    /// no temporary file.
    @Test func errorsLeaveNothingBehind() throws {
        let tensors = Self.sampleTensors()
        let cases: [(String, (GGUFWriter) throws -> Void)] = [
            ("needs 12 bytes, got 11", { try $0.writeTensor(named: "a.f32", [UInt8](repeating: 0, count: 11)) }),
            ("needs 12 bytes, got 13", { try $0.writeTensor(named: "a.f32", [UInt8](repeating: 0, count: 13)) }),
            ("got at least 16", { w in try [UInt8](repeating: 0, count: 16).withUnsafeBytes { try w.append($0) } }),
            ("out of order", { try $0.writeTensor(named: "b.q4_k", [UInt8](repeating: 0, count: 288)) }),
            ("no data written for 4 of 5 tensors", { w in
                try w.writeTensor(named: "a.f32", [UInt8](repeating: 0, count: 12))
                try w.finish()
            }),
            ("got only 5 of its 12 bytes", { w in
                try [UInt8](repeating: 0, count: 5).withUnsafeBytes { try w.append($0) }
                try w.finish()
            }),
            ("after all 5 declared tensors", { w in
                for (i, t) in tensors.enumerated() { try w.writeTensor(named: t.name, Self.bytes(for: t, seed: UInt8(i))) }
                try [UInt8](repeating: 0, count: 4).withUnsafeBytes { try w.writeTensor($0) }
            }),
        ]
        try Fixtures.withTempDir { dir in
            for (expected, misuse) in cases {
                let path = "\(dir)/out.gguf"
                do {
                    let w = try GGUFWriter(path: path, metadata: ["k": .uint8(1)], tensors: tensors)
                    let e = #expect(throws: QuantKitError.self) { try misuse(w) }
                    #expect(e?.message.contains(expected) == true, "\(e?.message ?? "no error"), expected “\(expected)”")
                    #expect(e?.path == path)
                    // Poisoned: finishing now fails too.
                    #expect(throws: QuantKitError.self) { try w.finish() }
                }
                #expect(Self.listing(dir).isEmpty, "left behind: \(Self.listing(dir))")
            }
        }
    }

    @Test func invalidDeclarationsAreRefused() throws {
        let cases: [(String, GGUFMetadata, [GGUFTensorInfo])] = [
            ("duplicate tensor name", [:], [.init(name: "x", type: .f32, shape: [1]), .init(name: "x", type: .f32, shape: [2])]),
            ("not a multiple of the type's block size", [:], [.init(name: "x", type: .q4_0, shape: [33])]),
            ("overflows", [:], [.init(name: "x", type: .f32, shape: [1 << 40, 1 << 40])]),
            ("negative", [:], [.init(name: "x", type: .f32, shape: [-1])]),
            ("5 dimensions", [:], [.init(name: "x", type: .f32, shape: [1, 1, 1, 1, 1])]),
            ("longer than llama.cpp's limit", [:], [.init(name: String(repeating: "n", count: 64), type: .f32, shape: [1])]),
            ("general.alignment must be", ["general.alignment": .uint64(32)], []),
            ("general.alignment must be", ["general.alignment": .uint32(48)], []),
            ("key is empty", ["": .uint8(1)], []),
            ("nested 4 deep", ["deep": .array(.array([.array([.array([.uint8([1])])])]))], []),
        ]
        try Fixtures.withTempDir { dir in
            for (expected, md, ts) in cases {
                let e = #expect(throws: QuantKitError.self) { _ = try GGUFWriter(path: "\(dir)/x.gguf", metadata: md, tensors: ts) }
                #expect(e?.message.contains(expected) == true, "\(e?.message ?? "no error"), expected “\(expected)”")
                #expect(e?.path == "\(dir)/x.gguf")
            }
            #expect(throws: QuantKitError.self) { _ = try GGUFWriter(path: "\(dir)/x.gguf", metadata: [:], tensors: [], version: 1) }
            #expect(Self.listing(dir).isEmpty)
        }
    }

    @Test func metadataKeepsOrderAndTypes() {
        var md: GGUFMetadata = ["b": .uint8(1), "a": .int32(2), "c": .string("x")]
        md["a"] = .uint64(3) // replaced in place, new type kept exactly
        md["d"] = .bool(false)
        md["b"] = nil
        #expect(md.keys == ["a", "c", "d"])
        #expect(md["a"] == .uint64(3))
        #expect(md["a"] != .uint32(3))
        #expect(md.position(of: "d") == 2)
        #expect(md.removeValue(forKey: "c") == .string("x"))
        #expect(md.keys == ["a", "d"] && md.position(of: "d") == 1)
        #expect(GGUFValue.float32(.nan) == .float32(.nan))
        #expect(GGUFValue.float32(0) != .float32(-0.0))
    }

    @Test func jsonSummaryIsCompleteAndValid() throws {
        try Fixtures.withTempDir { dir in
            try Self.write("\(dir)/m.gguf")
            let f = try GGUFFile(path: "\(dir)/m.gguf")
            let text = f.jsonSummary().serialized()
            let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8))
            #expect(Agreement.compare(f, parsed, label: "summary").isEmpty, "\(Agreement.compare(f, parsed, label: "summary"))")
            let pretty = try JSONSerialization.jsonObject(with: Data(f.jsonSummary().serialized(pretty: true).utf8))
            #expect(Agreement.compare(f, pretty, label: "pretty").isEmpty)
            #expect(text.contains(#""f32.nan","type":"FLOAT32","value":"nan""#))
            #expect(text.contains(#""value":18446744073709551615"#))
        }
    }
}
