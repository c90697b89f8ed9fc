import QKCore

/// The vocabulary of a SentencePiece `tokenizer.model` (a serialized `ModelProto`), read
/// straight from the protobuf wire format: each piece's text, score and type, which is all
/// llama.cpp's converter takes from it.
///
/// Only the fields needed are decoded (`pieces` = field 1: `piece` 1, `score` 2, `type` 3);
/// every other field is skipped by its wire type, so newer protos read fine. Malformed input
/// (truncated varints or lengths past the end) is an error naming the file.
struct SentencePieceModel {
    /// SentencePiece's piece types (`ModelProto.SentencePiece.Type`), the same numbers as
    /// GGUF's `tokenizer.ggml.token_type`.
    enum PieceType: Int32 {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    struct Piece {
        var text: String
        var score: Float
        var type: PieceType
    }

    var pieces: [Piece] = []

    init(path: String) throws {
        let file = try MappedFile(path: path)
        let bytes = try file.bytes(at: 0, count: file.count)
        var r = ProtoReader(bytes: bytes, path: path)
        while !r.atEnd {
            let (field, wire) = try r.key()
            if field == 1 && wire == 2 {
                pieces.append(try Self.piece(r.sub(), path: path))
            } else {
                try r.skip(wire)
            }
        }
        guard !pieces.isEmpty else { throw QuantKitError("tokenizer.model holds no pieces", path: path) }
    }

    private static func piece(_ bytes: UnsafeRawBufferPointer, path: String) throws -> Piece {
        var r = ProtoReader(bytes: bytes, path: path)
        var p = Piece(text: "", score: 0, type: .normal)
        while !r.atEnd {
            let (field, wire) = try r.key()
            switch (field, wire) {
            case (1, 2): p.text = String(decoding: try r.sub(), as: UTF8.self)
            case (2, 5): p.score = Float(bitPattern: try r.fixed32())
            case (3, 0):
                let v = try r.varint()
                guard let t = PieceType(rawValue: Int32(truncatingIfNeeded: v)) else {
                    throw QuantKitError("tokenizer.model: piece '\(p.text)' has unknown type \(v)", path: path)
                }
                p.type = t
            default: try r.skip(wire)
            }
        }
        return p
    }
}

/// Protobuf wire-format reading over a byte buffer.
private struct ProtoReader {
    let bytes: UnsafeRawBufferPointer
    let path: String
    var pos = 0

    var atEnd: Bool { pos >= bytes.count }

    func fail() -> QuantKitError { QuantKitError("tokenizer.model is not a valid SentencePiece model (malformed protobuf at byte \(pos))", path: path) }

    mutating func varint() throws -> UInt64 {
        var v: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard pos < bytes.count, shift < 64 else { throw fail() }
            let b = bytes[pos]
            pos += 1
            v |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return v }
            shift += 7
        }
    }

    mutating func key() throws -> (Int, Int) {
        let k = try varint()
        return (Int(k >> 3), Int(k & 7))
    }

    mutating func fixed32() throws -> UInt32 {
        guard pos + 4 <= bytes.count else { throw fail() }
        let v = bytes.loadUnaligned(fromByteOffset: pos, as: UInt32.self)
        pos += 4
        return UInt32(littleEndian: v)
    }

    mutating func sub() throws -> UnsafeRawBufferPointer {
        let n = try varint()
        guard n <= UInt64(bytes.count - pos) else { throw fail() }
        let s = UnsafeRawBufferPointer(rebasing: bytes[pos ..< pos + Int(n)])
        pos += Int(n)
        return s
    }

    mutating func skip(_ wire: Int) throws {
        switch wire {
        case 0: _ = try varint()
        case 1: guard pos + 8 <= bytes.count else { throw fail() }; pos += 8
        case 2: _ = try sub()
        case 5: guard pos + 4 <= bytes.count else { throw fail() }; pos += 4
        default: throw fail()
        }
    }
}
