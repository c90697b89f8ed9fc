#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import QKCore

/// llama-perplexity's `--kl-divergence-base` file: the reference model's token distributions,
/// compressed to 16 bits per vocabulary entry, so a quantized model can be compared with it later.
///
/// Layout (little-endian): "_logits_", n_ctx u32, n_vocab i32, n_chunk i32, the n_chunk·n_ctx
/// evaluated token ids (i32), then per chunk and per scored position (n_ctx-1-n_ctx/2 of them) a
/// record of `recordWidth` u16: scale f32, min log-prob f32, then one u16 per token:
/// log p ≈ min + scale·q. Files written here are read by llama-perplexity and vice versa.
public enum LogitsFile {
    static let magic = Array("_logits_".utf8)

    /// u16 slots in one position's record.
    public static func recordWidth(vocabulary: Int) -> Int { 2 * ((vocabulary + 1) / 2) + 4 }

    /// Positions scored per chunk of `context` tokens.
    public static func scoredPerChunk(context: Int) -> Int { context - 1 - context / 2 }

    /// Compresses one row of logits into `record` (recordWidth u16) and returns the negative
    /// log-likelihood of `token`, exactly as llama-perplexity does when it saves logits.
    public static func encode(logits: UnsafePointer<Float>, vocabulary n: Int, token: Int,
                              record: UnsafeMutablePointer<UInt16>) -> Double {
        var maxLogit = logits[0], minLogit = logits[0]
        for i in 1 ..< n { maxLogit = max(maxLogit, logits[i]); minLogit = min(minLogit, logits[i]) }
        minLogit = max(minLogit, maxLogit - 16)
        var sumExp = 0.0
        for i in 0 ..< n { sumExp += Double(expf(logits[i] - maxLogit)) }
        let logSumExp = Float(log(sumExp))
        let minLogProb = minLogit - maxLogit - logSumExp
        let scale = (maxLogit - minLogit) / 65535
        UnsafeMutableRawPointer(record).storeBytes(of: scale, as: Float.self)
        UnsafeMutableRawPointer(record).storeBytes(of: minLogProb, toByteOffset: 4, as: Float.self)
        let q = record + 4
        if scale != 0 {
            let inv = 1 / scale
            for i in 0 ..< n {
                q[i] = logits[i] > minLogit ? UInt16(truncatingIfNeeded: nearestInt(inv * (logits[i] - minLogit))) : 0
            }
        } else {
            q.initialize(repeating: 0, count: n)
        }
        if n % 2 == 1 { q[n] = 0 }
        return Double(maxLogit + logSumExp - logits[token])
    }

    @inline(__always) static func nearestInt(_ x: Float) -> Int32 {
        let bits = Int32(bitPattern: (x + 12582912).bitPattern)
        return (bits & 0x007f_ffff) - 0x0040_0000
    }

    /// The header of a logits file and where its records start.
    public struct Header: Sendable {
        public var context: Int
        public var vocabulary: Int
        public var chunks: Int
        public var tokens: [Int32]
        public var recordsOffset: Int
    }

    /// Reads and checks the header of `file`; errors name the file and the problem.
    public static func readHeader(_ file: MappedFile) throws -> Header {
        let path = file.path
        guard file.count >= 20, let base = file.base else { throw QuantKitError("is too short to be a logits file", path: path) }
        guard Array(UnsafeRawBufferPointer(start: base, count: 8)) == magic else {
            throw QuantKitError("does not look like a file of log-probabilities (no _logits_ magic)", path: path)
        }
        let context = Int(base.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        let vocabulary = Int(base.loadUnaligned(fromByteOffset: 12, as: Int32.self))
        let chunks = Int(base.loadUnaligned(fromByteOffset: 16, as: Int32.self))
        guard context >= 4, context <= 1 << 24, vocabulary > 0, vocabulary <= 1 << 24, chunks > 0, chunks <= 1 << 24 else {
            throw QuantKitError("has an implausible header (n_ctx \(context), n_vocab \(vocabulary), chunks \(chunks))", path: path)
        }
        let tokenBytes = context * chunks * 4
        let records = chunks * scoredPerChunk(context: context) * recordWidth(vocabulary: vocabulary) * 2
        guard file.count >= 20 + tokenBytes + records else {
            throw QuantKitError("is truncated: \(chunks) chunks of \(context) tokens need \(20 + tokenBytes + records) bytes, the file has \(file.count)", path: path)
        }
        var tokens = [Int32](repeating: 0, count: context * chunks)
        tokens.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(start: base + 20, count: tokenBytes)) }
        return Header(context: context, vocabulary: vocabulary, chunks: chunks, tokens: tokens, recordsOffset: 20 + tokenBytes)
    }
}
