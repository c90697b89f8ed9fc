import Foundation
import QKCore
import SafeTensors
import Testing

/// Malformed and malicious files: every one must be refused with a QuantKitError that names
/// the file, never a crash, hang or huge allocation.
@Suite struct HostileInputTests {
    /// Writes `bytes` to a file and expects opening it to fail with `fragment` in the message.
    static func expectRejected(_ bytes: [UInt8], _ fragment: String, in dir: String,
                               sourceLocation: SourceLocation = #_sourceLocation) {
        let path = dir + "/case.safetensors"
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        do {
            let f = try SafeTensorsFile(path: path)
            Issue.record("accepted (\(f.tensors.count) tensors); expected \"\(fragment)\"", sourceLocation: sourceLocation)
        } catch let e as QuantKitError {
            #expect(e.path == path, sourceLocation: sourceLocation)
            #expect(e.message.contains(fragment), "got: \(e.message)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error type \(type(of: error)): \(error)", sourceLocation: sourceLocation)
        }
    }

    /// A file with the given header text (unpadded) and `data` zero bytes of data.
    static func file(_ header: String, data: Int = 0, length: UInt64? = nil) -> [UInt8] {
        file(Array(header.utf8), data: data, length: length)
    }

    static func file(_ header: [UInt8], data: Int = 0, length: UInt64? = nil) -> [UInt8] {
        var out: [UInt8] = []
        withUnsafeBytes(of: (length ?? UInt64(header.count)).littleEndian) { out += $0 }
        return out + header + [UInt8](repeating: 0, count: data)
    }

    @Test func handcraftedBadFiles() throws {
        let dir = try Support.tempDir("bad")
        defer { Support.remove(dir) }
        func t(_ name: String, _ dtype: String = "F32", shape: String = "[2]", offsets: String = "[0,8]") -> String {
            "\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":\(offsets)}"
        }
        let cases: [([UInt8], String)] = [
            ([], "too small"),
            ([1, 0, 0, 0, 0, 0, 0], "too small"),
            (Self.file("{}", length: .max), "exceeds"),
            (Self.file("{}", length: 100_000_001), "exceeds"),
            (Self.file("{}", length: 3), "runs past the end"),
            (Self.file("", length: 0), "too small for a JSON object"),
            (Self.file("[]"), "does not start with '{'"),
            (Self.file("{\"a\":"), "invalid JSON"),
            (Self.file(Array("{\"".utf8) + [0xFF, 0xFE] + Array("\":{}}".utf8)), "not valid UTF-8"),
            (Self.file(Array("{\"\\u00e9".utf8) + [0xC3] + Array("\":{}}".utf8)), "not valid UTF-8"),
            (Self.file("{\(t("a")),\(t("a"))}", data: 8), "duplicate key"),
            (Self.file("{\(t("a", offsets: "[0,8]")),\(t("b", offsets: "[4,12]"))}", data: 12), "overlap"),
            (Self.file("{\(t("a", shape: "[4]", offsets: "[0,16]"))}", data: 8), "outside the data area"),
            (Self.file("{\(t("a", shape: "[3]"))}", data: 8), "needs 12"),
            (Self.file("{\(t("a", shape: "[-2]"))}", data: 8), "negative"),
            (Self.file("{\(t("a", shape: "[4611686018427387904,4]"))}", data: 8), "too large"),
            (Self.file("{\(t("a", shape: "[99999999999999999999]"))}", data: 8), "too large"),
            (Self.file("{\(t("a", shape: "[2.0]"))}", data: 8), "must be an integer"),
            (Self.file("{\(t("a", "F4"))}", data: 8), "unknown dtype"),
            (Self.file("{\(t("a", "f32"))}", data: 8), "unknown dtype"),
            (Self.file("{\(t("a", offsets: "[8,0]"))}", data: 8), "end before"),
            (Self.file("{\(t("a", offsets: "[0,8,8]"))}", data: 8), "two integers"),
            (Self.file("{\(t("a", offsets: "[0,-8]"))}", data: 8), "negative"),
            (Self.file("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", data: 8), "missing \"dtype\""),
            (Self.file("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", data: 8), "missing \"shape\""),
            (Self.file("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", data: 8), "missing \"data_offsets\""),
            (Self.file("{\"a\":{\"dtype\":7,\"shape\":[2],\"data_offsets\":[0,8]}}", data: 8), "must be a string"),
            (Self.file("{\"a\":3}"), "must be an object"),
            (Self.file("{\"__metadata__\":{\"k\":1}}"), "must be a string"),
            (Self.file("{\"__metadata__\":[\"k\"]}"), "__metadata__ must be an object"),
            (Self.file("{\"__metadata__\":" + String(repeating: "[", count: 100_000)), "nesting deeper"),
            (Self.file("{\"\\ud800\":{}}"), "lone surrogate"),
            (Self.file("{\"\\udc00x\":{}}"), "lone surrogate"),
            (Self.file("{\"a\u{1}\":{}}"), "control character"),
            (Self.file("{\"\\q\":{}}"), "invalid escape"),
            (Self.file("{} x"), "unexpected data after"),
            (Self.file("{}\0\0"), "unexpected data after"),
            (Self.file("{\"a\":tru}"), "invalid literal"),
            (Self.file("{\"a\":01}"), "expected ',' or '}'"),
            (Self.file("{\"a\":-}"), "invalid number"),
            (Self.file("{\"a\":1.}"), "invalid number"),
        ]
        for (bytes, fragment) in cases {
            Self.expectRejected(bytes, fragment, in: dir)
        }

        // Edge cases that are valid: scalars, empty tensors, padding, an empty header.
        let ok = Self.file("{\"__metadata__\":{}," + t("s", "F64", shape: "[]", offsets: "[0,8]") + "," + t("e", "BF16", shape: "[3,0]", offsets: "[8,8]")
                           + "," + t("z", "U8", shape: "[0]", offsets: "[8,8]") + "}    ", data: 8)
        let path = dir + "/ok.safetensors"
        _ = FileManager.default.createFile(atPath: path, contents: Data(ok))
        let f = try SafeTensorsFile(path: path)
        #expect(f.tensors.map(\.name) == ["s", "e", "z"])
        #expect(f["s"]?.elementCount == 1 && f["e"]?.elementCount == 0)
        #expect(f.metadata?.isEmpty == true)
        _ = FileManager.default.createFile(atPath: path, contents: Data(Self.file("{}")))
        #expect(try SafeTensorsFile(path: path).tensors.isEmpty)
    }

    /// Checks what a successful parse promises: every tensor inside the data area, sized by
    /// its shape, no two overlapping, data views readable.
    static func checkInvariants(_ f: SafeTensorsFile) throws {
        // Plain checks (not #expect) keep thousands of iterations fast in debug builds.
        var end = 0, converted = 0
        for t in f.tensors {
            guard t.byteCount == t.elementCount * t.dtype.byteSize,
                  t.dataOffsets.upperBound <= f.dataSize, t.fileOffset == f.dataStart + t.dataOffsets.lowerBound,
                  t.byteCount == 0 || t.dataOffsets.lowerBound >= end else {
                Issue.record("inconsistent tensor accepted: \(t)")
                return
            }
            if t.byteCount > 0 { end = t.dataOffsets.upperBound }
            let data = try f.data(t)
            if t.elementCount <= 4096 && converted < 8 {
                converted += 1
                var out = [Float](repeating: 0, count: t.elementCount)
                try out.withUnsafeMutableBufferPointer { try SafeTensorsConversion.toF32(data, dtype: t.dtype, into: $0) }
            }
        }
    }

    /// Thousands of mutations of the real MiniLM header (bit flips, special characters, number
    /// rewrites, deleted and duplicated slices, bogus lengths, truncations) on a sparse copy of
    /// the file: each must parse consistently or throw a QuantKitError naming the file.
    @Test func mutatedRealHeaderNeverCrashes() throws {
        let real = try SafeTensorsFile(path: Support.miniLMFile())
        let original = Array(try real.file.bytes(at: 0, count: real.dataStart))
        let fullSize = real.file.count
        let dir = try Support.tempDir("fuzz")
        defer { Support.remove(dir) }
        let path = dir + "/fuzz.safetensors"
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let fd = open(path, O_RDWR)
        #expect(fd >= 0)
        defer { close(fd) }

        let seed = UInt64(ProcessInfo.processInfo.environment["QUANTKIT_FUZZ_SEED"] ?? "") ?? 0x5AFE_7E45
        let iterations = Int(ProcessInfo.processInfo.environment["QUANTKIT_FUZZ_ITERATIONS"] ?? "") ?? 4000
        var rng = SplitMix64(seed: seed)
        let specials = Array("{}[]\",:-0123456789.eE\\ \u{0}".utf8) + [0x80, 0xC3, 0xFF, 0xED]
        var accepted = 0, rejected = 0
        let digitPositions = original.indices.filter { $0 >= 8 && original[$0] >= 0x30 && original[$0] <= 0x39 }

        for iteration in 0..<iterations {
            var bytes = original
            var size = fullSize
            var fixLength = true
            let kind = Int.random(in: 0..<7, using: &rng)
            switch kind {
            case 0: // bit flips anywhere in the length or header
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
                }
                fixLength = false
            case 1: // a JSON-significant or non-UTF-8 byte
                bytes[Int.random(in: 8..<bytes.count, using: &rng)] = specials.randomElement(using: &rng)!
            case 2: // rewrite a number
                let at = digitPositions.randomElement(using: &rng)!
                var end = at
                while end < bytes.count, (0x30...0x39).contains(bytes[end]) { end += 1 }
                let replacement = ["0", "-1", "1e3", "99999999999999999999", "9223372036854775807",
                                   "4611686018427387904", String(Int.random(in: 0...100_000_000, using: &rng)), "1.5", ""]
                    .randomElement(using: &rng)!
                bytes.replaceSubrange(at..<end, with: Array(replacement.utf8))
            case 3: // delete a slice
                let a = Int.random(in: 8..<bytes.count, using: &rng)
                bytes.removeSubrange(a..<min(bytes.count, a + Int.random(in: 1...64, using: &rng)))
            case 4: // duplicate a slice (e.g. a whole tensor entry)
                let a = Int.random(in: 8..<bytes.count, using: &rng)
                let slice = bytes[a..<min(bytes.count, a + Int.random(in: 1...200, using: &rng))]
                bytes.insert(contentsOf: slice, at: Int.random(in: 8..<bytes.count, using: &rng))
            case 5: // a bogus header length
                let lengths: [UInt64] = [0, 1, 2, .max, UInt64(Int.max), 1 << 63, 100_000_000, 100_000_001,
                                         UInt64(fullSize), UInt64(fullSize - 8), UInt64(original.count - 8) &+ UInt64.random(in: 1...16, using: &rng),
                                         UInt64(original.count - 8) &- UInt64.random(in: 1...16, using: &rng), UInt64.random(in: 0...UInt64.max, using: &rng)]
                withUnsafeBytes(of: lengths.randomElement(using: &rng)!.littleEndian) { bytes.replaceSubrange(0..<8, with: $0) }
                fixLength = false
            default: // truncation, anywhere
                size = Bool.random(using: &rng) ? Int.random(in: 0..<original.count + 64, using: &rng)
                                                : Int.random(in: 0..<fullSize, using: &rng)
            }
            if fixLength && kind != 6 {
                // Keep the length field consistent so mutations reach the JSON checks.
                let n = UInt64(bytes.count - 8)
                withUnsafeBytes(of: n.littleEndian) { bytes.replaceSubrange(0..<8, with: $0) }
                size = fullSize - original.count + bytes.count
            }
            // Rewrite the header in place; the data area's contents do not matter to parsing,
            // and keeping its pages cached keeps iterations cheap.
            guard bytes.withUnsafeBytes({ pwrite(fd, $0.baseAddress, min($0.count, size), 0) }) == min(bytes.count, size),
                  ftruncate(fd, off_t(size)) == 0 else {
                Issue.record("cannot prepare fuzz file")
                return
            }
            do {
                let f = try SafeTensorsFile(path: path)
                try Self.checkInvariants(f)
                accepted += 1
            } catch let e as QuantKitError {
                rejected += 1
                if e.path != path || e.message.isEmpty {
                    Issue.record("iteration \(iteration) (seed \(seed)): error without file or message: \(e)")
                }
            } catch {
                Issue.record("iteration \(iteration) (seed \(seed)): unexpected error type \(type(of: error)): \(error)")
            }
        }
        print("header fuzz: \(iterations) mutations, \(accepted) accepted, \(rejected) rejected (seed \(seed))")
        #expect(rejected > iterations / 2)
    }

    /// The real file cut short at hundreds of points (in the length, the header, and the
    /// data): every cut is detected.
    @Test func truncatedRealFileIsRejected() throws {
        let real = try SafeTensorsFile(path: Support.miniLMFile())
        let dir = try Support.tempDir("trunc")
        defer { Support.remove(dir) }
        let path = dir + "/t.safetensors"
        try FileManager.default.copyItem(atPath: real.path, toPath: path)
        var rng = SplitMix64(seed: 42)
        var cuts = Set(0..<80)
        for d in -64...64 { cuts.insert(real.dataStart + d) }
        for _ in 0..<300 { cuts.insert(Int.random(in: 0..<real.file.count, using: &rng)) }
        cuts.insert(real.file.count - 1)
        // Descending, so each cut only removes the tail of the previous one.
        for cut in cuts.sorted(by: >) {
            #expect(truncate(path, off_t(cut)) == 0)
            do {
                _ = try SafeTensorsFile(path: path)
                Issue.record("truncation at \(cut) was not detected")
            } catch let e as QuantKitError {
                #expect(e.path == path)
            } catch {
                Issue.record("unexpected error type at \(cut): \(error)")
            }
        }
    }
}
