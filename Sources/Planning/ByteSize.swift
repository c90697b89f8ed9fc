import QKCore

/// A number of bytes, as users type and read it.
///
/// Parsing accepts plain bytes ("1000", "1000B"), decimal units (KB, MB, GB, TB: powers of 10³)
/// and binary units (KiB, MiB, GiB, TiB: powers of 2¹⁰), case-insensitive, with decimals and an
/// optional space ("8GB", "24 GiB", "1.5tb"). A bare "G"/"M"/"K" is read as decimal, as disk
/// vendors and model cards use it.
public struct ByteSize: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var bytes: Int

    public init(bytes: Int) { self.bytes = bytes }

    /// Unit suffixes and their multipliers (upper-cased for matching).
    private static let units: [(String, Double)] = [
        ("KIB", 1024), ("MIB", 1024 * 1024), ("GIB", 1024 * 1024 * 1024), ("TIB", 1024 * 1024 * 1024 * 1024),
        ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12),
        ("K", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("B", 1),
    ]

    /// Parses "8GB", "24GiB", "1.5 GB", "512MiB", "1000B", "4096".
    public init(parsing text: String) throws {
        let s = text.trimmingSpaces().uppercased()
        var number = Substring(s)
        var multiplier = 1.0
        for (suffix, m) in Self.units where s.hasSuffix(suffix) {
            number = s.dropLast(suffix.count)
            multiplier = m
            break
        }
        let digits = String(number).trimmingSpaces()
        guard !digits.isEmpty, digits.allSatisfy({ $0.isNumber || $0 == "." }),
              let value = Double(digits), value.isFinite, value >= 0 else {
            throw QuantKitError("invalid size '\(text)': expected a number with an optional unit (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), e.g. 8GB or 24GiB")
        }
        let b = (value * multiplier).rounded()
        guard b < 9e18 else { throw QuantKitError("size '\(text)' is too large") }
        bytes = Int(b)
    }

    public static func < (a: ByteSize, b: ByteSize) -> Bool { a.bytes < b.bytes }

    /// Decimal gigabytes (10⁹ bytes), the unit model cards and the examples use.
    public var gb: Double { Double(bytes) / 1e9 }
    /// Binary mebibytes (2²⁰ bytes), the unit llama.cpp's logs use.
    public var mib: Double { Double(bytes) / 1_048_576 }
    /// Binary gibibytes (2³⁰ bytes), the unit llama.cpp's READMEs use.
    public var gib: Double { Double(bytes) / 1_073_741_824 }

    /// Human form in decimal units with three significant digits ("4.37 GB", "812 MB", "90.0 kB").
    public var description: String {
        let b = Double(bytes)
        let (v, unit): (Double, String) = b >= 1e12 ? (b / 1e12, "TB") : b >= 1e9 ? (b / 1e9, "GB")
            : b >= 1e6 ? (b / 1e6, "MB") : b >= 1e3 ? (b / 1e3, "kB") : (b, "B")
        if unit == "B" { return "\(bytes) B" }
        let digits = v >= 100 ? 0 : v >= 10 ? 1 : 2
        return formatFixed(v, digits) + " " + unit
    }
}

/// `String(format: "%.*f")` without Foundation: `digits` decimals, rounded half away from zero.
func formatFixed(_ v: Double, _ digits: Int) -> String {
    var p = 1.0
    for _ in 0 ..< digits { p *= 10 }
    let scaled = (abs(v) * p).rounded()
    let whole = Int(scaled / p)
    let frac = Int(scaled - Double(whole) * p)
    var s = (v < 0 && scaled != 0 ? "-" : "") + String(whole)
    if digits > 0 {
        let f = String(frac)
        s += "." + String(repeating: "0", count: digits - f.count) + f
    }
    return s
}

extension String {
    func trimmingSpaces() -> String {
        String(drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }
}
