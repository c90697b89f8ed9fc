import QKCore

/// A llama.cpp file type (`llama_ftype`): the "mix" a whole model is quantized to.
///
/// The raw value is what llama-quantize writes to `general.file_type`. A file type is not a
/// tensor type: `Q4_K_M` stores most tensors as Q4_K but bumps some (attn_v, ffn_down, output)
/// to Q6_K; the per-tensor choices are made by ``MixPlanner``. Names are the ones llama-quantize
/// accepts on its command line (see ``FileType/parse(_:)``).
public enum FileType: UInt32, CaseIterable, Sendable, Hashable, Codable {
    case f32 = 0, f16 = 1, q4_0 = 2, q4_1 = 3
    case q8_0 = 7, q5_0 = 8, q5_1 = 9
    case q2_K = 10, q3_K_S = 11, q3_K_M = 12, q3_K_L = 13
    case q4_K_S = 14, q4_K_M = 15, q5_K_S = 16, q5_K_M = 17, q6_K = 18
    case iq2_XXS = 19, iq2_XS = 20, q2_K_S = 21, iq3_XS = 22, iq3_XXS = 23
    case iq1_S = 24, iq4_NL = 25, iq3_S = 26, iq3_M = 27, iq2_S = 28, iq2_M = 29
    case iq4_XS = 30, iq1_M = 31, bf16 = 32
    case tq1_0 = 36, tq2_0 = 37, mxfp4_MOE = 38, nvfp4 = 39, q1_0 = 40, q2_0 = 41

    /// Bit llama.cpp ORs into the value when it guessed the file type from the tensor types
    /// (`LLAMA_FTYPE_GUESSED`); `COPY` can write such a value back to `general.file_type`.
    public static let guessedFlag: UInt32 = 1024

    /// One row of the file-type table: llama-quantize's name, the default tensor type
    /// (`llama_ftype_get_default_type`; nil = llama-quantize rejects the file type) and the
    /// human name llama.cpp prints (`llama_ftype_name`).
    private struct Row { let name: String; let defaultType: GGMLType?; let display: String }

    private static let table: [FileType: Row] = [
        .f32:       Row(name: "F32",       defaultType: .f32,     display: "all F32"),
        .f16:       Row(name: "F16",       defaultType: .f16,     display: "F16"),
        .bf16:      Row(name: "BF16",      defaultType: .bf16,    display: "BF16"),
        .q4_0:      Row(name: "Q4_0",      defaultType: .q4_0,    display: "Q4_0"),
        .q4_1:      Row(name: "Q4_1",      defaultType: .q4_1,    display: "Q4_1"),
        .q5_0:      Row(name: "Q5_0",      defaultType: .q5_0,    display: "Q5_0"),
        .q5_1:      Row(name: "Q5_1",      defaultType: .q5_1,    display: "Q5_1"),
        .q8_0:      Row(name: "Q8_0",      defaultType: .q8_0,    display: "Q8_0"),
        .q1_0:      Row(name: "Q1_0",      defaultType: .q1_0,    display: "Q1_0"),
        .q2_0:      Row(name: "Q2_0",      defaultType: .q2_0,    display: "Q2_0"),
        .mxfp4_MOE: Row(name: "MXFP4_MOE", defaultType: .mxfp4,   display: "MXFP4 MoE"),
        .nvfp4:     Row(name: "NVFP4",     defaultType: nil,      display: "NVFP4"),
        .q2_K:      Row(name: "Q2_K",      defaultType: .q2_K,    display: "Q2_K - Medium"),
        .q2_K_S:    Row(name: "Q2_K_S",    defaultType: .q2_K,    display: "Q2_K - Small"),
        .q3_K_S:    Row(name: "Q3_K_S",    defaultType: .q3_K,    display: "Q3_K - Small"),
        .q3_K_M:    Row(name: "Q3_K_M",    defaultType: .q3_K,    display: "Q3_K - Medium"),
        .q3_K_L:    Row(name: "Q3_K_L",    defaultType: .q3_K,    display: "Q3_K - Large"),
        .q4_K_S:    Row(name: "Q4_K_S",    defaultType: .q4_K,    display: "Q4_K - Small"),
        .q4_K_M:    Row(name: "Q4_K_M",    defaultType: .q4_K,    display: "Q4_K - Medium"),
        .q5_K_S:    Row(name: "Q5_K_S",    defaultType: .q5_K,    display: "Q5_K - Small"),
        .q5_K_M:    Row(name: "Q5_K_M",    defaultType: .q5_K,    display: "Q5_K - Medium"),
        .q6_K:      Row(name: "Q6_K",      defaultType: .q6_K,    display: "Q6_K"),
        .tq1_0:     Row(name: "TQ1_0",     defaultType: .tq1_0,   display: "TQ1_0 - 1.69 bpw ternary"),
        .tq2_0:     Row(name: "TQ2_0",     defaultType: .tq2_0,   display: "TQ2_0 - 2.06 bpw ternary"),
        .iq2_XXS:   Row(name: "IQ2_XXS",   defaultType: .iq2_xxs, display: "IQ2_XXS - 2.0625 bpw"),
        .iq2_XS:    Row(name: "IQ2_XS",    defaultType: .iq2_xs,  display: "IQ2_XS - 2.3125 bpw"),
        .iq2_S:     Row(name: "IQ2_S",     defaultType: .iq2_xs,  display: "IQ2_S - 2.5 bpw"),
        .iq2_M:     Row(name: "IQ2_M",     defaultType: .iq2_s,   display: "IQ2_M - 2.7 bpw"),
        .iq3_XS:    Row(name: "IQ3_XS",    defaultType: .iq3_s,   display: "IQ3_XS - 3.3 bpw"),
        .iq3_XXS:   Row(name: "IQ3_XXS",   defaultType: .iq3_xxs, display: "IQ3_XXS - 3.0625 bpw"),
        .iq1_S:     Row(name: "IQ1_S",     defaultType: .iq1_s,   display: "IQ1_S - 1.5625 bpw"),
        .iq1_M:     Row(name: "IQ1_M",     defaultType: .iq1_m,   display: "IQ1_M - 1.75 bpw"),
        .iq4_NL:    Row(name: "IQ4_NL",    defaultType: .iq4_nl,  display: "IQ4_NL - 4.5 bpw"),
        .iq4_XS:    Row(name: "IQ4_XS",    defaultType: .iq4_xs,  display: "IQ4_XS - 4.25 bpw"),
        .iq3_S:     Row(name: "IQ3_S",     defaultType: .iq3_s,   display: "IQ3_S - 3.4375 bpw"),
        .iq3_M:     Row(name: "IQ3_M",     defaultType: .iq3_s,   display: "IQ3_S mix - 3.66 bpw"),
    ]

    /// The canonical name, as llama-quantize and llama.cpp's snapshot tests spell it ("Q4_K_M").
    public var name: String { Self.table[self]!.name }

    /// The tensor type most quantizable tensors get (`llama_ftype_get_default_type`), or nil
    /// when llama-quantize refuses this file type ("invalid output file type": NVFP4).
    public var defaultType: GGMLType? { Self.table[self]!.defaultType }

    /// llama.cpp's human description ("Q4_K - Medium"), as printed by `llama_ftype_name`.
    public var displayName: String { Self.table[self]!.display }

    /// The human description of a raw `general.file_type` value, with llama.cpp's
    /// "(guessed) " prefix when the guessed flag is set and "unknown, may not work" otherwise.
    public static func displayName(rawValue: UInt32) -> String {
        let guessed = rawValue & guessedFlag != 0
        let name = FileType(rawValue: rawValue & ~guessedFlag)?.displayName ?? "unknown, may not work"
        return guessed ? "(guessed) " + name : name
    }

    /// A name llama-quantize accepts for a file type, as listed by its usage text, in its order.
    /// The aliases `Q3_K`, `Q4_K`, `Q5_K` stand for the medium mixes; `COPY` means "copy every
    /// tensor unchanged" (file type F32 with ``isCopy``).
    public struct Choice: Sendable, Hashable {
        /// The spelling llama-quantize prints and uses in the default output name.
        public let name: String
        public let fileType: FileType
        /// True for `COPY`: nothing is quantized and `general.file_type` keeps the input's value.
        public let isCopy: Bool
        /// The description llama-quantize prints next to the name.
        public let summary: String
    }

    /// llama-quantize's QUANT_OPTIONS list, in order (the order decides which name a numeric
    /// argument maps to: "12" gives "Q3_K", the alias listed before "Q3_K_M").
    public static let choices: [Choice] = [
        Choice(name: "Q1_0", fileType: .q1_0, isCopy: false, summary: " 1.125 bpw quantization"),
        Choice(name: "Q2_0", fileType: .q2_0, isCopy: false, summary: " 2.25 bpw quantization (group 64)"),
        Choice(name: "Q4_0", fileType: .q4_0, isCopy: false, summary: " 4.34G, +0.4685 ppl @ Llama-3-8B"),
        Choice(name: "Q4_1", fileType: .q4_1, isCopy: false, summary: " 4.78G, +0.4511 ppl @ Llama-3-8B"),
        Choice(name: "MXFP4_MOE", fileType: .mxfp4_MOE, isCopy: false, summary: " MXFP4 MoE"),
        Choice(name: "Q5_0", fileType: .q5_0, isCopy: false, summary: " 5.21G, +0.1316 ppl @ Llama-3-8B"),
        Choice(name: "Q5_1", fileType: .q5_1, isCopy: false, summary: " 5.65G, +0.1062 ppl @ Llama-3-8B"),
        Choice(name: "IQ2_XXS", fileType: .iq2_XXS, isCopy: false, summary: " 2.06 bpw quantization"),
        Choice(name: "IQ2_XS", fileType: .iq2_XS, isCopy: false, summary: " 2.31 bpw quantization"),
        Choice(name: "IQ2_S", fileType: .iq2_S, isCopy: false, summary: " 2.5  bpw quantization"),
        Choice(name: "IQ2_M", fileType: .iq2_M, isCopy: false, summary: " 2.7  bpw quantization"),
        Choice(name: "IQ1_S", fileType: .iq1_S, isCopy: false, summary: " 1.56 bpw quantization"),
        Choice(name: "IQ1_M", fileType: .iq1_M, isCopy: false, summary: " 1.75 bpw quantization"),
        Choice(name: "TQ1_0", fileType: .tq1_0, isCopy: false, summary: " 1.69 bpw ternarization"),
        Choice(name: "TQ2_0", fileType: .tq2_0, isCopy: false, summary: " 2.06 bpw ternarization"),
        Choice(name: "Q2_K", fileType: .q2_K, isCopy: false, summary: " 2.96G, +3.5199 ppl @ Llama-3-8B"),
        Choice(name: "Q2_K_S", fileType: .q2_K_S, isCopy: false, summary: " 2.96G, +3.1836 ppl @ Llama-3-8B"),
        Choice(name: "IQ3_XXS", fileType: .iq3_XXS, isCopy: false, summary: " 3.06 bpw quantization"),
        Choice(name: "IQ3_S", fileType: .iq3_S, isCopy: false, summary: " 3.44 bpw quantization"),
        Choice(name: "IQ3_M", fileType: .iq3_M, isCopy: false, summary: " 3.66 bpw quantization mix"),
        Choice(name: "Q3_K", fileType: .q3_K_M, isCopy: false, summary: "alias for Q3_K_M"),
        Choice(name: "IQ3_XS", fileType: .iq3_XS, isCopy: false, summary: " 3.3 bpw quantization"),
        Choice(name: "Q3_K_S", fileType: .q3_K_S, isCopy: false, summary: " 3.41G, +1.6321 ppl @ Llama-3-8B"),
        Choice(name: "Q3_K_M", fileType: .q3_K_M, isCopy: false, summary: " 3.74G, +0.6569 ppl @ Llama-3-8B"),
        Choice(name: "Q3_K_L", fileType: .q3_K_L, isCopy: false, summary: " 4.03G, +0.5562 ppl @ Llama-3-8B"),
        Choice(name: "IQ4_NL", fileType: .iq4_NL, isCopy: false, summary: " 4.50 bpw non-linear quantization"),
        Choice(name: "IQ4_XS", fileType: .iq4_XS, isCopy: false, summary: " 4.25 bpw non-linear quantization"),
        Choice(name: "Q4_K", fileType: .q4_K_M, isCopy: false, summary: "alias for Q4_K_M"),
        Choice(name: "Q4_K_S", fileType: .q4_K_S, isCopy: false, summary: " 4.37G, +0.2689 ppl @ Llama-3-8B"),
        Choice(name: "Q4_K_M", fileType: .q4_K_M, isCopy: false, summary: " 4.58G, +0.1754 ppl @ Llama-3-8B"),
        Choice(name: "Q5_K", fileType: .q5_K_M, isCopy: false, summary: "alias for Q5_K_M"),
        Choice(name: "Q5_K_S", fileType: .q5_K_S, isCopy: false, summary: " 5.21G, +0.1049 ppl @ Llama-3-8B"),
        Choice(name: "Q5_K_M", fileType: .q5_K_M, isCopy: false, summary: " 5.33G, +0.0569 ppl @ Llama-3-8B"),
        Choice(name: "Q6_K", fileType: .q6_K, isCopy: false, summary: " 6.14G, +0.0217 ppl @ Llama-3-8B"),
        Choice(name: "Q8_0", fileType: .q8_0, isCopy: false, summary: " 7.96G, +0.0026 ppl @ Llama-3-8B"),
        Choice(name: "F16", fileType: .f16, isCopy: false, summary: "14.00G, +0.0020 ppl @ Mistral-7B"),
        Choice(name: "BF16", fileType: .bf16, isCopy: false, summary: "14.00G, -0.0050 ppl @ Mistral-7B"),
        Choice(name: "F32", fileType: .f32, isCopy: false, summary: "26.00G              @ 7B"),
        // COPY after F32, so that the number 0 maps to F32.
        Choice(name: "COPY", fileType: .f32, isCopy: true, summary: "only copy tensors, no quantizing"),
    ]

    /// Parses a file type argument exactly as llama-quantize does (`try_parse_ftype`): a name
    /// from ``choices`` compared case-insensitively, else a number (C `stoi`: optional leading
    /// blanks and sign, then digits; trailing text ignored) naming the first choice with that
    /// value. Returns nil when llama-quantize would not accept the argument.
    public static func parse(_ argument: String) -> Choice? {
        let upper = argument.uppercased()
        if let c = choices.first(where: { $0.name == upper }) { return c }
        guard let n = cStoi(argument), n >= 0, let ft = FileType(rawValue: UInt32(n)) else { return nil }
        return choices.first { $0.fileType == ft && !$0.isCopy }
    }

    /// Like ``parse(_:)``, but throws an error that lists the closest names when the argument
    /// is unknown (e.g. "Q4_KM" → "did you mean Q4_K_M?").
    public static func choice(named argument: String) throws -> Choice {
        if let c = parse(argument) { return c }
        let names = choices.map(\.name)
        let upper = argument.uppercased()
        let scored = names.map { ($0, editDistance(upper, $0)) }
        let best = scored.map(\.1).min() ?? 0
        let close = scored.filter { $0.1 == best }.map(\.0)
        var msg = "unknown file type '\(argument)'"
        if best <= max(2, upper.count / 2) {
            msg += "; did you mean \(close.joined(separator: " or "))?"
        }
        msg += " (valid: \(names.joined(separator: ", ")))"
        throw QuantKitError(msg)
    }

    /// The file type llama.cpp guesses for a model from its tensor types (the most frequent
    /// type, earlier tensors winning ties, in llama.cpp's tensor order), with ``guessedFlag``
    /// set; `general.file_type`, when present, replaces it. This is the value `COPY` writes.
    /// Types with no file type of their own count as F32 (llama.cpp logs "unknown type").
    public static func loaderValue(fileTypeKey: UInt32?, tensorTypes: [GGMLType]) -> UInt32 {
        if let fileTypeKey { return fileTypeKey }
        var counts: [GGMLType: Int] = [:]
        var maxCount = 0
        var maxType = GGMLType.f32
        for t in tensorTypes {
            counts[t, default: 0] += 1
            if counts[t]! > maxCount { maxCount = counts[t]!; maxType = t }
        }
        return (guessTable[maxType] ?? .f32).rawValue | guessedFlag
    }

    /// The loader's tensor type → file type guess (other types give F32).
    private static let guessTable: [GGMLType: FileType] = [
        .f32: .f32, .f16: .f16, .bf16: .bf16, .q4_0: .q4_0, .q4_1: .q4_1, .q5_0: .q5_0, .q5_1: .q5_1,
        .q8_0: .q8_0, .q2_K: .q2_K, .q3_K: .q3_K_M, .q4_K: .q4_K_M, .q5_K: .q5_K_M, .q6_K: .q6_K,
        .tq1_0: .tq1_0, .tq2_0: .tq2_0, .iq2_xxs: .iq2_XXS, .iq2_xs: .iq2_XS, .iq2_s: .iq2_S,
        .iq3_xxs: .iq3_XXS, .iq1_s: .iq1_S, .iq1_m: .iq1_M, .iq4_nl: .iq4_NL, .iq4_xs: .iq4_XS,
        .iq3_s: .iq3_S, .nvfp4: .nvfp4, .q1_0: .q1_0, .q2_0: .q2_0,
    ]

    /// C `stoi` semantics: skip leading whitespace, optional sign, at least one digit.
    private static func cStoi(_ s: String) -> Int? {
        var it = s.unicodeScalars.drop { " \t\n\r\u{0B}\u{0C}".unicodeScalars.contains($0) }
        var sign = 1
        if let f = it.first, f == "+" || f == "-" { sign = f == "-" ? -1 : 1; it = it.dropFirst() }
        let digits = it.prefix { $0.value >= 48 && $0.value <= 57 }
        guard !digits.isEmpty, let v = Int(String(String.UnicodeScalarView(digits))) else { return nil }
        return sign * v
    }

    /// Levenshtein distance between two strings (by characters).
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
        var prev = Array(0 ... b.count)
        var cur = prev
        for i in 1 ... a.count {
            cur[0] = i
            for j in 1 ... b.count {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&prev, &cur)
        }
        return prev[b.count]
    }
}

extension FileType: CustomStringConvertible {
    public var description: String { name }
}
