import Foundation
import Quantization

/// Per-tensor summaries of an importance matrix, so a user can see which tensors and columns
/// matter: llama-imatrix `--show-statistics`' figures (computed on Σx²/count per column) plus
/// how concentrated the importance is in the top 1% of columns, and totals per layer.
public struct ImatrixStatistics: Codable, Sendable {
    /// One weight tensor.
    public struct Tensor: Codable, Sendable {
        public var name: String
        /// Block index (-1 outside the blocks).
        public var layer: Int
        /// Short name (`attn_q`, `ffn_down`, …).
        public var kind: String
        /// Σ over columns of the mean squared activation.
        public var sum: Double
        public var mean: Double
        public var min: Double
        public var max: Double
        public var stddev: Double
        /// Share of columns whose importance exceeds 1e-5.
        public var active: Double
        /// Columns (× experts with data).
        public var columns: Int
        /// Entropy of the importance distribution (bits) and as a share of its maximum.
        public var entropy: Double
        public var entropyNormalized: Double
        /// Share of columns more than one standard deviation above the mean.
        public var zScoreShare: Double
        /// Share of the total held by the most important 1% of columns.
        public var top1PercentShare: Double
        /// Cosine similarity with the same tensor in the previous block (nil for the first).
        public var cosineToPreviousLayer: Double?
        /// Tokens seen (per expert, the largest).
        public var tokens: Int64
    }

    /// Totals of one block.
    public struct Layer: Codable, Sendable {
        public var layer: Int
        public var sum: Double
        public var meanZScoreShare: Double
        public var meanCosine: Double?
    }

    public var tensors: [Tensor]
    public var layers: [Layer]
    public var chunks: Int
    public var chunkSize: Int
    public var datasets: [String]

    public init(_ data: ImatrixData) {
        var list: [Tensor] = []
        let normalized = data.normalized()
        for (name, e) in data.entries {
            let n = e.rowLength
            var values: [Double] = []
            for (j, c) in e.counts.enumerated() where c > 0 || data.isLegacy {
                values += normalized[name]![j * n ..< (j + 1) * n].map(Double.init)
            }
            guard !values.isEmpty else { continue }
            list.append(Self.summary(name: name, values, tokens: e.counts.max() ?? 0))
        }
        // Cosine similarity with the previous block's same tensor, on the raw sums.
        let byName = Dictionary(uniqueKeysWithValues: list.enumerated().map { ($1.name, $0) })
        for i in list.indices where list[i].layer > 0 {
            let prev = list[i].name.replacingOccurrences(of: "blk.\(list[i].layer).", with: "blk.\(list[i].layer - 1).")
            guard byName[prev] != nil, let a = data.entries[list[i].name]?.sums, let b = data.entries[prev]?.sums,
                  a.count == b.count else { continue }
            var dot = 0.0, na = 0.0, nb = 0.0
            for k in a.indices { dot += Double(a[k]) * Double(b[k]); na += Double(a[k] * a[k]); nb += Double(b[k] * b[k]) }
            list[i].cosineToPreviousLayer = na > 0 && nb > 0 ? dot / (na.squareRoot() * nb.squareRoot()) : nil
        }
        list.sort { ($0.kind, $0.layer, $0.name) < ($1.kind, $1.layer, $1.name) }
        tensors = list

        var layerMap: [Int: (sum: Double, zd: Double, cos: Double, cosN: Int, cols: Int)] = [:]
        for t in list where t.layer >= 0 {
            var l = layerMap[t.layer] ?? (0, 0, 0, 0, 0)
            l.sum += t.sum
            l.zd += t.zScoreShare * Double(t.columns)
            l.cols += t.columns
            if let c = t.cosineToPreviousLayer { l.cos += c * Double(t.columns); l.cosN += t.columns }
            layerMap[t.layer] = l
        }
        layers = layerMap.keys.sorted().map { k in
            let l = layerMap[k]!
            return Layer(layer: k, sum: l.sum, meanZScoreShare: l.zd / Double(max(1, l.cols)),
                         meanCosine: l.cosN > 0 ? l.cos / Double(l.cosN) : nil)
        }
        chunks = data.chunkCount
        chunkSize = data.chunkSize
        datasets = data.datasets
    }

    static func summary(name: String, _ v: [Double], tokens: Int64) -> Tensor {
        let (layer, kind) = nameParts(name)
        let total = v.reduce(0, +)
        let mean = total / Double(v.count)
        let variance = max(0, v.reduce(0) { $0 + $1 * $1 } / Double(v.count) - mean * mean)
        let sd = variance.squareRoot()
        var entropy = 0.0
        if total > 0 { for x in v where x > 0 { let p = x / total; entropy -= p * log2(p) } }
        let sorted = v.sorted(by: >)
        let top = max(1, v.count / 100)
        return Tensor(name: name, layer: layer, kind: kind, sum: total, mean: mean, min: sorted.last!, max: sorted[0],
                      stddev: sd, active: Double(v.filter { abs($0) > 1e-5 }.count) / Double(v.count), columns: v.count,
                      entropy: entropy, entropyNormalized: v.count > 1 ? entropy / log2(Double(v.count)) : 0,
                      zScoreShare: sd > 0 ? Double(v.filter { ($0 - mean) / sd > 1 }.count) / Double(v.count) : 0,
                      top1PercentShare: total > 0 ? sorted[0 ..< top].reduce(0, +) / total : 0,
                      cosineToPreviousLayer: nil, tokens: tokens)
    }

    /// ("blk.12.attn_q.weight") → (12, "attn_q").
    static func nameParts(_ name: String) -> (Int, String) {
        let parts = name.split(separator: ".")
        var layer = -1
        if let b = parts.firstIndex(of: "blk"), b + 1 < parts.count, let l = Int(parts[b + 1]) { layer = l }
        if let w = parts.lastIndex(of: "weight"), w > 0 { return (layer, String(parts[w - 1])) }
        return (layer, name)
    }

    /// The human-readable report: one line per tensor, then per-layer totals.
    public func table() -> String {
        var s = "chunks: \(chunks) × \(chunkSize) tokens; datasets: \(datasets.joined(separator: ", "))\n\n"
        s += "layer  tensor            Σ(act²)        min         max        mean     stddev  active  columns  entropy  top1%   ZD     cos\n"
        for t in tensors {
            let layer = t.layer >= 0 ? String(t.layer) : "-"
            s += pad(layer, 5) + "  " + padRight(t.kind, 14)
            s += pad(fmt(t.sum, 2), 12) + pad(fmt(t.min, 4), 11) + pad(fmt(t.max, 2), 12) + pad(fmt(t.mean, 3), 11)
            s += pad(fmt(t.stddev, 3), 11) + pad(fmt(100 * t.active, 1) + "%", 8) + pad(String(t.columns), 9)
            s += pad(fmt(100 * t.entropyNormalized, 1) + "%", 9) + pad(fmt(100 * t.top1PercentShare, 1) + "%", 7)
            s += pad(fmt(100 * t.zScoreShare, 1) + "%", 7) + pad(t.cosineToPreviousLayer.map { fmt($0, 3) } ?? "-", 7) + "\n"
        }
        s += "\nper layer:\nlayer      Σ(act²)     ZD      cos\n"
        for l in layers {
            s += pad(String(l.layer), 5) + pad(fmt(l.sum, 2), 13) + pad(fmt(100 * l.meanZScoreShare, 2) + "%", 8)
            s += pad(l.meanCosine.map { fmt($0, 3) } ?? "-", 8) + "\n"
        }
        return s
    }

    private func fmt(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }
    private func pad(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }
    private func padRight(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(0, w - s.count)) }
}
