import QKCore
import Quantization

/// `quant plan MODEL`'s answer: sizes for every file type at one context, and the
/// recommendation when a budget is given. Renders as a human table or as JSON-ready values.
public struct PlanReport: Sendable {
    public let shape: ModelShape
    public let context: ContextOptions
    public let estimates: [MemoryEstimate]
    public let budget: MemoryBudget?
    public let recommendation: Recommendation?
    /// `--type`: the type whose largest context and offload split are shown.
    public let selected: FileType?
    public let selectedMaxContext: Int?
    public let selectedSplit: OffloadSplit?

    public init(shape: ModelShape, context: ContextOptions, budget: MemoryBudget? = nil, fileType: FileType? = nil) throws {
        self.shape = shape
        self.context = context
        self.budget = budget
        estimates = try MemoryPlanner.estimates(shape, context: context)
        selected = fileType
        if let budget {
            recommendation = try Recommender.recommend(shape, context: context, budget: budget)
            if let t = fileType, let e = estimates.first(where: { $0.fileType == t }) {
                selectedMaxContext = try Recommender.largestContext(shape, fileType: t, context: context, budget: budget)
                selectedSplit = Recommender.fit(e, budget)
            } else {
                selectedMaxContext = nil
                selectedSplit = nil
            }
        } else {
            recommendation = nil
            selectedMaxContext = nil
            selectedSplit = nil
        }
    }

    var kv: KVCacheSize? { estimates.first?.kvCache }

    /// The human report.
    public func text() -> String {
        var out: [String] = []
        let s = shape
        out.append("\(s.name): \(s.architecture), \(s.layerCount) layers, \(Self.count(s.parameterCount)) parameters, "
                   + "training context \(s.contextLength)")
        out += s.notes.map { "note: \($0)" }
        let c = context
        var ctx = "context \(c.context) tokens → \(c.paddedContext) cells, K \(c.typeK.name.lowercased()) / V \(c.typeV.name.lowercased())"
        if c.sequences > 1 { ctx += ", \(c.sequences) sequences\(c.unified ? " (unified)" : "")" }
        out.append(ctx)
        if let kv {
            let streams = c.streams > 1 ? " × \(c.streams) streams" : ""
            var line = "KV cache \(kv.size) (\(formatFixed(ByteSize(bytes: kv.bytes).mib, 2)) MiB): "
                + "\(kv.full.layers) layers × \(kv.full.cells) cells\(streams)"
            if let w = kv.slidingWindow {
                line += " + \(w.layers) sliding-window layers × \(w.cells) cells\(streams) (window \(s.slidingWindow))"
            }
            out.append(line)
        }
        if let e = estimates.first {
            out.append("compute buffer ≈ \(ByteSize(bytes: e.computeBytes)) (estimate), output buffer \(ByteSize(bytes: e.outputBufferBytes))")
        }
        out.append("")
        var rows = [["type", "bpw", "weights", "GiB", "total", "KLD (Llama-3-8B)", "KLD (this model)"]]
        for e in estimates {
            let q = QualityTable.reference(e.fileType).map { formatFixed($0.meanKLD, 4) + ($0.imatrix ? "*" : "") } ?? "-"
            let m = QualityTable.measured(e.fileType, model: s).map { formatFixed($0.meanKLD, 4) } ?? "-"
            rows.append([e.fileType.name + (e.weights.requiresImatrix ? " (imatrix)" : ""), formatFixed(e.weights.bitsPerWeight, 2),
                         "\(e.weights.size)", formatFixed(e.weights.size.gib, 2), "\(e.total)", q, m])
        }
        out += Self.table(rows, rightAligned: [1, 2, 3, 4, 5, 6])
        out.append("")
        out.append("total = weights + KV cache + compute + output buffers. KLD: mean KL divergence (lower is better); "
                   + "* = measured with an imatrix.")
        out.append("  Llama-3-8B: \(QualityTable.llamaCppSource)")
        out.append("  this model: \(QualityTable.quantKitSource)")
        if budget == nil, let t = selected, let e = estimates.first(where: { $0.fileType == t }) {
            out.append("")
            out.append("\(t.name): " + Recommender.breakdown(e) + " (give --memory, or --gpu and --ram, for the largest context and GPU layers)")
        }
        if let r = recommendation, let b = budget {
            out.append("")
            out.append("budget: " + Self.budgetText(b))
            if let choice = r.choice {
                out.append("recommended: \(choice.fileType.name)" + (r.maxContext.map { ", fits up to \($0) tokens of context" } ?? ""))
            } else {
                out.append("recommended: nothing fits")
            }
            out += r.reasons.map { "  - " + $0 }
            if let f = r.fullOffloadChoice, f.fileType != r.choice?.fileType {
                out.append("  - best type entirely on the GPU (fastest): \(f.fileType.name) (-ngl \(s.layerCount + 1))")
            }
            if let t = selected {
                var line = "\(t.name): "
                line += selectedMaxContext.map { "largest context that fits: \($0) tokens" } ?? "does not fit even at 256 tokens"
                if let sp = selectedSplit, b.gpu != nil {
                    line += "; at \(c.context) tokens: -ngl \(sp.gpuLayers) (\(ByteSize(bytes: sp.gpuBytes)) GPU, \(ByteSize(bytes: sp.ramBytes)) RAM)"
                }
                out.append(line)
            }
        }
        return out.joined(separator: "\n")
    }

    /// The report as JSON-serialisable values (sizes in bytes).
    public func json() -> [String: Any] {
        var d: [String: Any] = [
            "model": ["name": shape.name, "architecture": shape.architecture, "layers": shape.layerCount,
                      "parameters": shape.parameterCount, "context_length": shape.contextLength, "vocab_size": shape.vocabSize,
                      "sliding_window": shape.slidingWindow, "notes": shape.notes] as [String: Any],
            "context": ["requested": context.context, "cells": context.paddedContext, "cache_type_k": context.typeK.name.lowercased(),
                        "cache_type_v": context.typeV.name.lowercased(), "sequences": context.sequences,
                        "ubatch": context.effectiveUbatch] as [String: Any],
            "types": estimates.map(Self.estimateJSON(shape)),
        ]
        if let kv { d["kv_cache"] = Self.kvJSON(kv) }
        if let r = recommendation, let b = budget {
            var rec: [String: Any] = ["reasons": r.reasons, "budget": Self.budgetJSON(b)]
            rec["file_type"] = r.choice?.fileType.name
            rec["max_context"] = r.maxContext
            if let sp = r.offload { rec["gpu_layers"] = sp.gpuLayers; rec["gpu_bytes"] = sp.gpuBytes; rec["ram_bytes"] = sp.ramBytes }
            rec["full_offload_file_type"] = r.fullOffloadChoice?.fileType.name
            if let t = selected {
                rec["selected"] = ["file_type": t.name, "max_context": selectedMaxContext as Any,
                                   "gpu_layers": selectedSplit?.gpuLayers as Any] as [String: Any]
            }
            d["recommendation"] = rec
        }
        return d
    }

    static func estimateJSON(_ shape: ModelShape) -> (MemoryEstimate) -> [String: Any] {
        { e in
            var row: [String: Any] = [
                "file_type": e.fileType.name, "weight_bytes": e.weights.bytes, "bits_per_weight": e.weights.bitsPerWeight,
                "kv_cache_bytes": e.kvCache.bytes, "compute_bytes": e.computeBytes, "output_buffer_bytes": e.outputBufferBytes,
                "total_bytes": e.totalBytes, "requires_imatrix": e.weights.requiresImatrix,
                "tensor_types": Dictionary(uniqueKeysWithValues: e.weights.typeCounts.map { ($0.key.name, $0.value) }),
            ]
            if let q = QualityTable.reference(e.fileType) { row["quality_reference"] = qualityJSON(q) }
            if let m = QualityTable.measured(e.fileType, model: shape) { row["quality_measured"] = qualityJSON(m) }
            return row
        }
    }

    static func qualityJSON(_ q: QualityTable.Entry) -> [String: Any] {
        var d: [String: Any] = ["model": q.model, "mean_kld": q.meanKLD, "imatrix": q.imatrix, "source": q.source]
        d["delta_ppl"] = q.deltaPPL
        d["ppl_ratio"] = q.pplRatio
        d["same_top_percent"] = q.sameTopPercent
        return d
    }

    static func kvJSON(_ kv: KVCacheSize) -> [String: Any] {
        func cache(_ c: KVCacheSize.Cache) -> [String: Any] {
            ["cells": c.cells, "layers": c.layers, "k_bytes": c.kBytes, "v_bytes": c.vBytes, "bytes": c.bytes]
        }
        var d: [String: Any] = ["bytes": kv.bytes, "full": cache(kv.full)]
        if let w = kv.slidingWindow { d["sliding_window"] = cache(w) }
        return d
    }

    static func budgetJSON(_ b: MemoryBudget) -> [String: Any] {
        var d: [String: Any] = ["headroom": b.headroom]
        d["memory_bytes"] = b.memory?.bytes
        d["gpu_bytes"] = b.gpu?.bytes
        d["ram_bytes"] = b.ram?.bytes
        return d
    }

    static func budgetText(_ b: MemoryBudget) -> String {
        var parts: [String] = []
        if let m = b.memory { parts.append("memory \(m)") }
        if let g = b.gpu { parts.append("GPU \(g)") }
        if let r = b.ram { parts.append("RAM \(r)") }
        return parts.joined(separator: ", ") + ", \(Int((b.headroom * 100).rounded()))% kept free"
    }

    /// "134.5M", "8.03B".
    static func count(_ n: Int) -> String {
        n >= 1_000_000_000 ? formatFixed(Double(n) / 1e9, 2) + "B" : formatFixed(Double(n) / 1e6, 1) + "M"
    }

    /// Pads cells into aligned columns (first row is the header, underlined).
    static func table(_ rows: [[String]], rightAligned: Set<Int>) -> [String] {
        guard let first = rows.first else { return [] }
        var widths = Array(repeating: 0, count: first.count)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        func line(_ r: [String]) -> String {
            r.enumerated().map { i, c in
                let fill = String(repeating: " ", count: widths[i] - c.count)
                return rightAligned.contains(i) ? fill + c : c + fill
            }.joined(separator: "  ").trimmingSpaces()
        }
        return [line(first), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")] + rows.dropFirst().map(line)
    }
}
