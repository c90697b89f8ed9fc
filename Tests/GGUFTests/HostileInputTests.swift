import Foundation
import GGUF
import QKCore
import Testing

/// Damaged and hostile files: the reader must throw a QuantKitError naming the file and the
/// problem, or succeed with a consistent result, and never crash, hang or allocate what a
/// count claims.
@Suite struct HostileInputTests {
    /// A structural field of a valid header: where it is and how wide.
    struct Field { var offset: Int; var width: Int; var what: String }

    /// Walks a valid GGUF header and lists its counts, lengths, type ids, dimensions and
    /// offsets: the fields worth mutating.
    static func fields(of b: [UInt8]) -> [Field] {
        var out: [Field] = [.init(offset: 0, width: 4, what: "magic"), .init(offset: 4, width: 4, what: "version"),
                            .init(offset: 8, width: 8, what: "tensor count"), .init(offset: 16, width: 8, what: "kv count")]
        func u64(_ o: Int) -> Int { Int(b[o ..< o + 8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }) }
        func u32(_ o: Int) -> Int { Int(b[o ..< o + 4].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }) }
        var o = 24
        func string(_ what: String) { out.append(.init(offset: o, width: 8, what: what)); o += 8 + u64(o) }
        func value(_ t: Int) {
            switch t {
            case 8: string("string length")
            case 9:
                out.append(.init(offset: o, width: 4, what: "array type"))
                out.append(.init(offset: o + 4, width: 8, what: "array count"))
                let et = u32(o), n = u64(o + 4)
                o += 12
                if let size = GGUFValueType(rawValue: UInt32(et))?.fixedSize { o += size * n } else {
                    for i in 0 ..< n { if i < 3 || i == n - 1 { value(et) } else { skip(et) } }
                }
            default: o += GGUFValueType(rawValue: UInt32(t))!.fixedSize!
            }
        }
        func skip(_ t: Int) { // like value(), recording nothing (long arrays)
            let before = out.count
            value(t)
            out.removeSubrange(before...)
        }
        for _ in 0 ..< u64(16) {
            string("key length")
            out.append(.init(offset: o, width: 4, what: "value type"))
            let t = u32(o)
            o += 4
            value(t)
        }
        for _ in 0 ..< u64(8) {
            string("tensor name length")
            let nd = u32(o)
            out.append(.init(offset: o, width: 4, what: "n_dims"))
            o += 4
            for _ in 0 ..< nd { out.append(.init(offset: o, width: 8, what: "dimension")); o += 8 }
            out.append(.init(offset: o, width: 4, what: "ggml type"))
            out.append(.init(offset: o + 4, width: 8, what: "tensor offset"))
            o += 12
        }
        return out
    }

    /// Small real-derived files: each real model's metadata with arrays cut to 24 elements,
    /// and its 12 smallest tensors with their real data; plus small llama.cpp outputs.
    static func corpus(_ dir: String) throws -> [(name: String, bytes: [UInt8])] {
        var out: [(String, [UInt8])] = []
        for name in Fixtures.modelNames {
            let src = try Fixtures.open(name)
            var md = GGUFMetadata()
            for e in src.metadata {
                if case .array(let a) = e.value, a.count > 24 {
                    md[e.key] = .array(trim(a, to: 24))
                } else { md[e.key] = e.value }
            }
            let keep = Set(src.tensors.indices.sorted { src.tensors[$0].byteCount < src.tensors[$1].byteCount }.prefix(12))
            let idx = src.tensors.indices.filter(keep.contains)
            let path = "\(dir)/\(name)"
            let w = try GGUFWriter(path: path, metadata: md, tensors: idx.map { src.tensors[$0] })
            for i in idx { try w.writeTensor(src.data(at: i)) }
            try w.finish()
            out.append((path, Array(try Data(contentsOf: URL(fileURLWithPath: path)))))
        }
        for p in Fixtures.sharedFiles where p.hasSuffix("expected/Q4_K.gguf") || p.hasSuffix("inputs.imatrix.gguf") {
            out.append((p, Array(try Data(contentsOf: URL(fileURLWithPath: p)))))
        }
        return out
    }

    static func trim(_ a: GGUFArray, to n: Int) -> GGUFArray {
        switch a {
        case .string(let x): .string(Array(x.prefix(n)))
        case .float32(let x): .float32(Array(x.prefix(n)))
        case .int32(let x): .int32(Array(x.prefix(n)))
        case .uint32(let x): .uint32(Array(x.prefix(n)))
        case .uint8(let x): .uint8(Array(x.prefix(n)))
        case .bool(let x): .bool(Array(x.prefix(n)))
        default: a
        }
    }

    /// Reproducible randomness (SplitMix64).
    struct Rng: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func put(_ v: UInt64, into b: inout [UInt8], at o: Int, width: Int) {
        for i in 0 ..< width where o + i < b.count { b[o + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) }
    }

    static func get(_ b: [UInt8], at o: Int, width: Int) -> UInt64 {
        (0 ..< width).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64(o + $1 < b.count ? b[o + $1] : 0) }
    }

    /// Parses; on success checks the result is self-consistent (data views inside the bytes,
    /// the header re-encodes to the same bytes). Returns the error, if any.
    static func parse(_ bytes: [UInt8], name: String) -> QuantKitError? {
        do {
            let f = try GGUFFile(bytes: bytes, name: name)
            var sum = 0
            for i in f.tensors.indices {
                let d = f.data(at: i)
                if let first = d.first, let last = d.last { sum &+= Int(first) &+ Int(last) }
                #expect(d.isEmpty || (d.baseAddress! >= f.bytes.baseAddress! && d.baseAddress! + d.count <= f.bytes.baseAddress! + f.bytes.count))
            }
            let header = GGUFWriter.encodeHeader(metadata: f.metadata, tensors: f.tensors, version: f.version)
            #expect(header.count == f.headerSize && memcmp(header, bytes, f.headerSize) == 0, "\(name): accepted header does not re-encode identically")
            _ = f.jsonSummary()
            return nil
        } catch let e as QuantKitError {
            return e
        } catch {
            Issue.record("\(name): unexpected error type \(type(of: error)): \(error)")
            return nil
        }
    }

    @Test func mutatedRealHeadersNeverCrash() throws {
        try Fixtures.withTempDir { dir in
            let corpus = try Self.corpus(dir)
            var rng = Rng(state: 0x6767_7566)
            let extremes: [UInt64] = [0, 1, 2, 3, 7, 8, 9, 12, 13, 31, 32, 33, 255, 256, 0x7FFF_FFFF, 0xFFFF_FFFF, 1 << 32,
                                      1 << 62, (1 << 63) - 1, 1 << 63, UInt64.max - 7, UInt64.max]
            var accepted = 0, rejected = 0
            var kinds: [String: Int] = [:]
            for (name, original) in corpus {
                let fields = Self.fields(of: original)
                let headerEnd = fields.map { $0.offset + $0.width }.max()! + 64
                for _ in 0 ..< 800 {
                    var b = original
                    switch Int.random(in: 0 ..< 10, using: &rng) {
                    case 0 ..< 5: // a structural field set to an extreme, off-by-one or random value
                        let f = fields.randomElement(using: &rng)!
                        let old = Self.get(b, at: f.offset, width: f.width)
                        let v = [extremes.randomElement(using: &rng)!, old &+ 1, old &- 1, old &* 2, old &+ 32, rng.next()]
                            .randomElement(using: &rng)!
                        Self.put(v, into: &b, at: f.offset, width: f.width)
                        if Int.random(in: 0 ..< 4, using: &rng) == 0 { b.removeLast(Int.random(in: 0 ... b.count, using: &rng)) }
                    case 5 ..< 8: // bit flips, mostly in the header
                        for _ in 0 ..< Int.random(in: 1 ... 8, using: &rng) {
                            let limit = Int.random(in: 0 ..< 4, using: &rng) == 0 ? b.count : min(b.count, headerEnd)
                            let i = Int.random(in: 0 ..< limit, using: &rng)
                            b[i] ^= 1 << UInt8.random(in: 0 ..< 8, using: &rng)
                        }
                    default: // truncation anywhere, mostly inside the header
                        let limit = Int.random(in: 0 ..< 3, using: &rng) == 0 ? b.count : min(b.count, headerEnd)
                        b.removeLast(b.count - Int.random(in: 0 ..< limit, using: &rng))
                    }
                    if let e = Self.parse(b, name: name) {
                        rejected += 1
                        #expect(e.path == name && !e.message.isEmpty)
                        kinds[String(e.message.prefix(while: { $0 != ":" && $0 != "'" }).prefix(30)), default: 0] += 1
                    } else { accepted += 1 }
                }
            }
            print("fuzz: \(accepted) mutated files accepted, \(rejected) rejected; error kinds: \(kinds.sorted { $0.value > $1.value }.prefix(12))")
            #expect(rejected > accepted)
        }
    }

    // MARK: - One targeted case per kind of damage

    /// A valid small file: 2 tensors named "t.a"/"t.b", keys "k.a"/"k.b", a string array.
    static func sample() throws -> [UInt8] {
        try Fixtures.withTempDir { dir in
            let md: GGUFMetadata = ["k.a": .uint32(7), "k.b": .string("text"), "k.arr": .array(.string(["x", "yy"])), "k.bool": .bool(true)]
            let ts = [GGUFTensorInfo(name: "t.a", type: .f32, shape: [8, 2]), GGUFTensorInfo(name: "t.b", type: .q8_0, shape: [32])]
            try WriterTests.write("\(dir)/s.gguf", metadata: md, tensors: ts)
            return Array(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/s.gguf")))
        }
    }

    /// The offset just after the first occurrence of the GGUF string `s` (length + bytes).
    static func after(_ s: String, in b: [UInt8]) -> Int {
        let pat: [UInt8] = withUnsafeBytes(of: UInt64(s.utf8.count).littleEndian, Array.init) + Array(s.utf8)
        for i in 0 ... (b.count - pat.count) where b[i ..< i + pat.count].elementsEqual(pat) { return i + pat.count }
        fatalError("'\(s)' not found")
    }

    @Test func eachKindOfDamageIsNamed() throws {
        let good = try Self.sample()
        #expect(Self.parse(good, name: "good.gguf") == nil)
        let tb = Self.after("t.b", in: good) // n_dims(4) dim(8) type(4) offset(8)
        let ta = Self.after("t.a", in: good) // n_dims(4) dims(16) type(4) offset(8)
        typealias Mutation = (inout [UInt8]) -> Void
        let cases: [(String, Mutation)] = [
            ("bad magic", { $0[0] = 0x47; $0[3] = 0x4C }),
            ("truncated", { $0.removeLast($0.count - 30) }),
            ("truncated", { $0.removeLast($0.count - 3) }),
            ("truncated", { $0.removeLast(40) }),
            ("unsupported GGUF version 1", { Self.put(1, into: &$0, at: 4, width: 4) }),
            ("big-endian", { Self.put(0x0300_0000, into: &$0, at: 4, width: 4) }),
            ("tensor count 9223372036854775808 is larger than the file can hold", { Self.put(1 << 63, into: &$0, at: 8, width: 8) }),
            ("metadata count 18446744073709551615 is larger than the file can hold", { Self.put(.max, into: &$0, at: 16, width: 8) }),
            ("claims a length of 18446744073709551615 bytes", { Self.put(.max, into: &$0, at: 24, width: 8) }),
            ("claims an array of 4611686018427387904 STRING elements", { b in Self.put(1 << 62, into: &b, at: Self.after("k.arr", in: b) + 8, width: 8) }),
            ("unknown value type 13", { b in Self.put(13, into: &b, at: Self.after("k.a", in: b), width: 4) }),
            ("unknown array element type 99", { b in Self.put(99, into: &b, at: Self.after("k.arr", in: b) + 4, width: 4) }),
            ("bool byte 2", { b in b[Self.after("k.bool", in: b) + 4] = 2 }),
            ("duplicate metadata key 'k.a'", { b in b[Self.after("k.b", in: b) - 1] = UInt8(ascii: "a") }),
            ("duplicate tensor name 't.a'", { b in b[tb - 1] = UInt8(ascii: "a") }),
            ("invalid UTF-8", { b in b[Self.after("k.b", in: b) - 1] = 0xFF }),
            ("invalid UTF-8", { b in b[Self.after("text", in: b) - 2] = 0xC3 }),
            ("unknown ggml type id 4", { b in Self.put(4, into: &b, at: tb + 12, width: 4) }),
            ("unknown ggml type id 43", { b in Self.put(43, into: &b, at: tb + 12, width: 4) }),
            ("5 dimensions", { b in Self.put(5, into: &b, at: tb, width: 4) }),
            ("the product of the dimensions overflows", { b in
                Self.put(1 << 32, into: &b, at: ta + 4, width: 8); Self.put(1 << 32, into: &b, at: ta + 12, width: 8)
            }),
            ("too large", { b in Self.put(.max, into: &b, at: tb + 4, width: 8) }),
            ("not a multiple of the type's block size 32", { b in Self.put(33, into: &b, at: tb + 4, width: 8) }),
            ("misaligned", { b in Self.put(65, into: &b, at: tb + 16, width: 8) }),
            ("lies outside the file's data section", { b in Self.put(1 << 40, into: &b, at: tb + 16, width: 8) }),
            ("lies outside the file", { b in Self.put(.max, into: &b, at: tb + 16, width: 8) }),
            ("lies outside the file's data section", { b in Self.put(1 << 20, into: &b, at: tb + 4, width: 8) }),
            ("tensors 't.a' and 't.b' overlap", { b in Self.put(32, into: &b, at: tb + 16, width: 8) }),
        ]
        for (expected, mutate) in cases {
            var b = good
            mutate(&b)
            let e = Self.parse(b, name: "/models/damaged.gguf")
            #expect(e != nil, "no error for “\(expected)”")
            #expect(e?.path == "/models/damaged.gguf")
            #expect(e?.description.hasPrefix("/models/damaged.gguf: ") == true)
            #expect(e?.message.contains(expected) == true, "got “\(e?.message ?? "")”, expected “\(expected)”")
        }
    }

    /// Every type id ggml defines today (ggml.h: 0-3, 6-30, 34, 35, 39-42) is read with its
    /// block layout; removed and unassigned ids (4, 5, 31-33, 36-38, 43+) are refused by name.
    @Test func everyGGMLTypeIdIsKnownOrRefused() {
        let ggml = Set<UInt32>([0, 1, 2, 3] + Array(6 ... 30) + [34, 35, 39, 40, 41, 42])
        #expect(Set(GGMLType.allCases.map(\.rawValue)) == ggml)
        for id in UInt32(0) ..< 64 {
            let type = GGMLType(rawValue: id)
            let row = (type?.blockSize ?? 1) * 2
            var e = HeaderBytes()
            e.u32(GGUFFile.magic); e.u32(3); e.u64(1); e.u64(0)
            e.str("t"); e.u32(2); e.u64(UInt64(row)); e.u64(3); e.u32(id); e.u64(0)
            e.bytes += [UInt8](repeating: 0, count: (32 - e.bytes.count % 32) % 32)
            e.bytes += [UInt8](repeating: 0, count: 6 * 292)
            let err = Self.parse(e.bytes, name: "t.gguf")
            if let type {
                #expect(err == nil, "\(type.name): \(err?.message ?? "")")
                let f = try? GGUFFile(bytes: e.bytes, name: "t.gguf")
                #expect(f?.tensors.first?.byteCount == 6 * type.typeSize)
            } else {
                #expect(err?.message.contains("unknown ggml type id \(id)") == true, "\(id): \(err?.message ?? "accepted")")
            }
        }
    }

    @Test func alignmentKeyIsValidated() throws {
        for (v, ok) in [(GGUFValue.uint32(48), false), (.uint32(0), false), (.uint64(32), false), (.uint32(1 << 21), false), (.uint32(16), true)] {
            try Fixtures.withTempDir { dir in
                try WriterTests.write("\(dir)/a.gguf", metadata: ["x": .uint8(1)], tensors: [.init(name: "t", type: .f32, shape: [4])])
                var b = Array(try Data(contentsOf: URL(fileURLWithPath: "\(dir)/a.gguf")))
                // Replace the metadata with general.alignment = v, keeping the rest.
                let f = try GGUFFile(bytes: b, name: "x")
                var e = HeaderBytes()
                e.header(tensors: f.tensors, kv: [("general.alignment", v)])
                b = e.bytes + [UInt8](repeating: 0, count: 64) + withExtendedLifetime(f) { Array(f.bytes[f.dataOffset...]) }
                let err = Self.parse(b, name: "a.gguf")
                #expect((err == nil) == ok, "\(v): \(err?.message ?? "accepted")")
                if !ok { #expect(err?.message.contains("general.alignment") == true) }
            }
        }
    }

    @Test func absurdNestingIsRefused() {
        // An array of arrays nested 100 deep: refused at the limit, no recursion blow-up.
        var e = HeaderBytes()
        e.u32(GGUFFile.magic); e.u32(3); e.u64(0); e.u64(1)
        e.str("deep"); e.u32(9)
        for _ in 0 ..< 100 { e.u32(9); e.u64(1) }
        e.u32(0); e.u64(0)
        let err = Self.parse(e.bytes, name: "deep.gguf")
        #expect(err?.message.contains("nested more than 3 deep") == true, "\(err?.message ?? "accepted")")
        // 3 deep is fine.
        var ok = HeaderBytes()
        ok.u32(GGUFFile.magic); ok.u32(3); ok.u64(0); ok.u64(1)
        ok.str("ok"); ok.u32(9); ok.u32(9); ok.u64(1); ok.u32(9); ok.u64(1); ok.u32(0); ok.u64(2); ok.bytes += [1, 2]
        #expect(Self.parse(ok.bytes, name: "ok.gguf") == nil)
    }

    @Test func errorsFromDiskNameThePath() throws {
        try Fixtures.withTempDir { dir in
            let p = "\(dir)/cut.gguf"
            try Data(try Self.sample().prefix(100)).write(to: URL(fileURLWithPath: p))
            let e = #expect(throws: QuantKitError.self) { _ = try GGUFFile(path: p) }
            #expect(e?.path == p && e?.message.contains("truncated") == true)
            try Data().write(to: URL(fileURLWithPath: "\(dir)/empty.gguf"))
            #expect(throws: QuantKitError.self) { _ = try GGUFFile(path: "\(dir)/empty.gguf") }
            let missing = #expect(throws: QuantKitError.self) { _ = try GGUFFile(path: "\(dir)/none.gguf") }
            #expect(missing?.path == "\(dir)/none.gguf")
        }
    }
}

/// Hand-built GGUF bytes for the cases the writer refuses to produce.
struct HeaderBytes {
    var bytes: [UInt8] = []
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func str(_ s: String) { u64(UInt64(s.utf8.count)); bytes += Array(s.utf8) }
    mutating func header(tensors: [GGUFTensorInfo], kv: [(String, GGUFValue)]) {
        var md = GGUFMetadata()
        for (k, v) in kv { md[k] = v }
        bytes = GGUFWriter.encodeHeader(metadata: md, tensors: tensors)
        bytes += [UInt8](repeating: 0, count: (32 - bytes.count % 32) % 32)
    }
}
