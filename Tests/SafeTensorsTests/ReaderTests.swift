import Foundation
import QKCore
import SafeTensors
import Testing

/// The reader against the real all-MiniLM-L6-v2 checkpoint, checked by the independent
/// numpy reader in scripts/st_reference.py.
@Suite struct ReaderTests {
    @Test func miniLMMatchesReferenceReader() throws {
        let path = try Support.miniLMFile()
        let file = try SafeTensorsFile(path: path)
        let ref = try Support.reference(path)

        #expect(file.metadataDictionary == ref.metadata ?? [:])
        #expect(file.metadata?.map(\.key) == ["format"])
        #expect(file.tensors.count == ref.tensors.count)
        #expect(file.tensors.count == 104)
        #expect(file.headerOrder == ref.tensors.sorted { $0.header_position < $1.header_position }.map(\.name))
        #expect(file.dataStart == 8 + file.headerSize && file.dataStart % 8 == 0)

        // File-offset order, contiguous, covering the data area.
        var end = 0
        for t in file.tensors {
            #expect(t.dataOffsets.lowerBound == end, "\(t.name) starts where the previous ends")
            #expect(t.fileOffset == file.dataStart + t.dataOffsets.lowerBound)
            #expect(t.byteCount == t.elementCount * t.dtype.byteSize)
            end = t.dataOffsets.upperBound
        }
        #expect(end == file.dataSize)

        try Support.compare(ref) { name in
            let info = try file.info(name)
            return (info, try file.data(info))
        }

        let emb = try file.info("embeddings.word_embeddings.weight")
        #expect(emb.dtype == .f32 && emb.shape == [30522, 384] && emb.elementCount == 30522 * 384)
        #expect(file["embeddings.position_ids"]?.dtype == .i64)
        #expect(file["no.such.tensor"] == nil)
        #expect(throws: QuantKitError.self) { try file.info("no.such.tensor") }
    }

    @Test func convertToF32ChecksSizes() throws {
        let file = try SafeTensorsFile(path: Support.miniLMFile())
        let name = "embeddings.LayerNorm.bias"
        var small = [Float](repeating: 0, count: 383)
        let error = small.withUnsafeMutableBufferPointer { buf in
            #expect(throws: QuantKitError.self) { try file.convertToF32(name, into: buf) }
        }
        #expect(error?.path == file.path)
        var ok = [Float](repeating: 0, count: 384)
        try ok.withUnsafeMutableBufferPointer { try file.convertToF32(name, into: $0) }
        let raw = try file.data(name)
        #expect(ok == (0..<384).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) })
    }

    @Test func directoryWithSingleFileOpensAsModel() throws {
        let dir = try Support.miniLMDir()
        let model = try SafeTensorsModel(path: dir)
        let file = try SafeTensorsFile(path: dir + "/model.safetensors")
        #expect(model.indexPath == nil)
        #expect(model.shards.count == 1)
        #expect(model.tensors.map(\.name) == file.tensors.map(\.name))
        #expect(model.metadata?.first?.value == "pt")
        let a = try model.data("encoder.layer.5.output.dense.weight")
        let b = try file.data("encoder.layer.5.output.dense.weight")
        #expect(a.count == b.count && memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0)
        // The file itself also opens as a model.
        #expect(try SafeTensorsModel(path: dir + "/model.safetensors").tensors.count == 104)
    }

    /// Every dtype, converted by QuantKit and by numpy: a file built from real MiniLM data in
    /// F16, BF16, F64, the F8 formats and the integer types, including tensors that start at
    /// odd offsets (misaligned 16-bit data) and tensors large enough to convert in parallel.
    @Test func conversionsMatchReferenceForEveryDType() throws {
        let source = try SafeTensorsFile(path: Support.miniLMFile())
        let dir = try Support.tempDir("dtypes")
        defer { Support.remove(dir) }
        let path = dir + "/dtypes.safetensors"

        let picks = ["embeddings.word_embeddings.weight", "encoder.layer.0.attention.self.query.weight",
                     "embeddings.LayerNorm.weight", "encoder.layer.3.intermediate.dense.bias"]
        var specs: [SafeTensorSpec] = []
        var payloads: [[UInt8]] = []
        func add(_ name: String, _ dtype: SafeTensorsDType, _ bytes: [UInt8]) throws {
            specs.append(try SafeTensorSpec(name: name, dtype: dtype, shape: [bytes.count / dtype.byteSize]))
            payloads.append(bytes)
        }
        for (k, name) in picks.enumerated() {
            let info = try source.info(name)
            let raw = try source.data(info)
            let f = (0..<info.elementCount).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
            var h = [UInt16](repeating: 0, count: f.count), b = h
            f.withUnsafeBufferPointer { HalfFloat.convertF32ToF16($0.baseAddress!, &h, f.count) }
            f.withUnsafeBufferPointer { HalfFloat.convertF32ToBF16($0.baseAddress!, &b, f.count) }
            // An odd-sized byte tensor first, so the 16-bit tensors after it are misaligned.
            try add("\(name).u8", .u8, Array(raw.prefix(2 * k + 1)))
            try add("\(name).f16", .f16, h.withUnsafeBytes(Array.init))
            try add("\(name).bool", .bool, Array(raw.prefix(7)))
            try add("\(name).bf16", .bf16, b.withUnsafeBytes(Array.init))
            // Doubles that are not representable as floats, so rounding is exercised.
            if k == 0 { continue }  // the 47 MB embedding: F16/BF16 only (large, parallel path)
            let d = f.map { Double($0) * (1 + 1e-7) + 1e-12 }
            try add("\(name).f64", .f64, d.withUnsafeBytes(Array.init))
            let bytes = Array(raw.prefix(min(raw.count, 1 << 18)))
            try add("\(name).f8_e4m3", .f8E4M3, bytes)
            try add("\(name).f8_e5m2", .f8E5M2, bytes)
            try add("\(name).f8_e8m0", .f8E8M0, bytes)
            try add("\(name).i8", .i8, bytes)
            for t in [SafeTensorsDType.i16, .u16, .i32, .u32, .i64, .u64] {
                try add("\(name).\(t.rawValue.lowercased())", t, Array(bytes.prefix(bytes.count / 8 * 8)))
            }
        }
        // Every byte value, for the 8-bit formats.
        let all = (0..<256).map { UInt8($0) }
        try add("all.f8_e4m3", .f8E4M3, all)
        try add("all.f8_e5m2", .f8E5M2, all)
        try add("all.f8_e8m0", .f8E8M0, all)

        let writer = try SafeTensorsWriter(path: path, tensors: specs, metadata: [("source", "all-MiniLM-L6-v2")])
        for (s, p) in zip(specs, payloads) { try p.withUnsafeBytes { try writer.writeTensor(named: s.name, $0) } }
        try writer.commit()

        let file = try SafeTensorsFile(path: path)
        #expect(file.tensors.map(\.name) == specs.map(\.name))
        #expect(file.tensors.contains { $0.dtype == .f16 && $0.fileOffset % 2 == 1 })
        let ref = try Support.reference(path)
        #expect(ref.tensors.count == specs.count)
        #expect(ref.metadata == ["source": "all-MiniLM-L6-v2"])
        try Support.compare(ref) { name in
            let info = try file.info(name)
            return (info, try file.data(info))
        }

        // Parallel and serial conversion agree on a large misaligned tensor.
        let big = try #require(file.tensors.first { $0.dtype == .f16 && $0.elementCount > 1_000_000 })
        var p1 = [Float](repeating: 0, count: big.elementCount), p2 = p1
        try p1.withUnsafeMutableBufferPointer { try SafeTensorsConversion.toF32(file.data(big), dtype: .f16, into: $0, parallel: true) }
        try p2.withUnsafeMutableBufferPointer { try SafeTensorsConversion.toF32(file.data(big), dtype: .f16, into: $0, parallel: false) }
        #expect(p1.withUnsafeBytes { a in p2.withUnsafeBytes { b in memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0 } })
    }

    @Test func eightBitFloatTables() {
        #expect(SafeTensorsConversion.f32(e4m3: 0x7E) == 448)
        #expect(SafeTensorsConversion.f32(e4m3: 0x01) == 0x1p-9)
        #expect(SafeTensorsConversion.f32(e4m3: 0x7F).isNaN && SafeTensorsConversion.f32(e4m3: 0xFF).isNaN)
        #expect(SafeTensorsConversion.f32(e4m3: 0xB8) == -1)
        #expect(SafeTensorsConversion.f32(e5m2: 0x7B) == 57344)
        #expect(SafeTensorsConversion.f32(e5m2: 0x7C) == .infinity)
        #expect(SafeTensorsConversion.f32(e5m2: 0x01) == 0x1p-16)
        #expect(SafeTensorsConversion.f32(e8m0: 127) == 1 && SafeTensorsConversion.f32(e8m0: 0) == 0x1p-127)
        #expect(SafeTensorsConversion.f32(e8m0: 255).isNaN)
    }
}
