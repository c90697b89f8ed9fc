import Foundation
import QKCore

/// What `quant quantize --target-size/--target-bpw` aims for.
public enum SizeTarget: Sendable, Equatable {
    /// The whole output file (header, metadata, tensor data and alignment padding) in bytes.
    case fileBytes(Int)
    /// Bits per weight over all tensor elements: tensor data (with its alignment padding) may
    /// take at most `bpw × elements / 8` bytes; header and metadata come on top.
    case bitsPerWeight(Double)

    /// The same kind of target, `fraction` as large (smaller budgets to try: a plan that fits
    /// them fits this one too).
    public func scaled(_ fraction: Double) -> SizeTarget {
        switch self {
        case .fileBytes(let b): return .fileBytes(Int((Double(b) * fraction).rounded(.down)))
        case .bitsPerWeight(let bpw): return .bitsPerWeight(bpw * fraction)
        }
    }

    /// Parses a size such as `4.2GB`, `600MiB`, `123456789` or `1.5 GiB`: B, KB/MB/GB/TB are
    /// powers of 1000, KiB/MiB/GiB/TiB powers of 1024 (case-insensitive, `K`/`M`/`G` alone mean
    /// the decimal units). Fractions round down to whole bytes.
    public static func parseBytes(_ text: String) throws -> Int {
        let s = text.trimmingCharacters(in: .whitespaces).lowercased()
        var numberEnd = s.startIndex
        while numberEnd < s.endIndex, s[numberEnd].isNumber || s[numberEnd] == "." { numberEnd = s.index(after: numberEnd) }
        let unit = s[numberEnd...].trimmingCharacters(in: .whitespaces)
        guard let value = Double(s[..<numberEnd]), value.isFinite, value > 0 else {
            throw QuantKitError("invalid size '\(text)': expected a positive number with an optional unit (B, KB, MB, GB, KiB, MiB, GiB)")
        }
        let units: [String: Double] = [
            "": 1, "b": 1,
            "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
            "kib": 1024, "mib": 1_048_576, "gib": 1_073_741_824, "tib": 1_099_511_627_776,
        ]
        guard let scale = units[unit] else {
            throw QuantKitError("invalid size '\(text)': unknown unit '\(unit)' (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)")
        }
        let bytes = (value * scale).rounded(.down)
        guard bytes >= 1, bytes < 9e18 else { throw QuantKitError("invalid size '\(text)': out of range") }
        return Int(bytes)
    }
}

private extension Character {
    var isNumber: Bool { ("0" ... "9").contains(self) }
}
