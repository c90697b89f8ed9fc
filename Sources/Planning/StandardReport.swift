import QKCore
import Quantization

/// The questions quantization guides answer, for the standard Llama shapes: a size table
/// (model × file type) checked against llama.cpp's published figures, and "smaller model at
/// high bits or larger model at low bits?" for a memory budget.
public enum StandardReport {
    /// Planned weight sizes of `models` at `fileTypes`, with llama.cpp's published figures.
    public struct SizeTable: Sendable {
        public let models: [StandardModels.Model]
        public let fileTypes: [FileType]
        /// plans[model][fileType]
        public let plans: [[WeightPlan]]
        /// (published figure, planned value in its unit, relative deviation).
        public let checks: [(StandardModels.PublishedSize, Double, Double)]

        public init(models: [StandardModels.Model] = StandardModels.models, fileTypes: [FileType] = WeightSizes.fileTypes) throws {
            self.models = models
            self.fileTypes = fileTypes
            var plans: [[WeightPlan]] = []
            var checks: [(StandardModels.PublishedSize, Double, Double)] = []
            for m in models {
                let shape = m.shape()
                let row = try fileTypes.map { try WeightSizes.plan(shape, fileType: $0) }
                plans.append(row)
                for p in StandardModels.published where p.model == m.name {
                    let w = try WeightSizes.plan(shape, fileType: p.fileType)
                    let v = StandardModels.planned(w, as: p.value)
                    checks.append((p, v, v / p.number - 1))
                }
            }
            self.plans = plans
            self.checks = checks
        }

        public func text() -> String {
            var rows = [["type"] + models.map(\.name)]
            for (j, t) in fileTypes.enumerated() {
                rows.append([t.name] + plans.map { "\($0[j].size) \(formatFixed($0[j].bitsPerWeight, 2))" })
            }
            var out = ["weight sizes (GB = 10⁹ bytes) and bits per weight, from llama.cpp's mix rules:", ""]
            out += PlanReport.table(rows, rightAligned: Set(1 ... models.count))
            if !checks.isEmpty {
                out += ["", "llama.cpp's published figures:"]
                var c = [["model", "type", "published", "planned", "deviation", "source"]]
                for (p, v, dev) in checks {
                    c.append([p.model, p.fileType.name, "\(formatFixed(p.number, 2)) \(p.unit)", "\(formatFixed(v, 3)) \(p.unit)",
                              (dev >= 0 ? "+" : "") + formatFixed(dev * 100, 2) + "%",
                              p.source + (p.staleBecause.map { " [stale: \($0)]" } ?? "")])
                }
                out += PlanReport.table(c, rightAligned: [2, 3, 4])
            }
            return out.joined(separator: "\n")
        }

        public func json() -> [String: Any] {
            [
                "models": zip(models, plans).map { m, row in
                    ["name": m.name, "parameters": row.first?.parameters ?? 0,
                     "types": row.map { ["file_type": $0.fileType.name, "weight_bytes": $0.bytes, "bits_per_weight": $0.bitsPerWeight] }]
                        as [String: Any]
                },
                "published": checks.map { p, v, dev in
                    var d: [String: Any] = ["model": p.model, "file_type": p.fileType.name, "published": p.number, "unit": p.unit,
                                            "planned": v, "deviation": dev, "source": p.source]
                    d["stale_because"] = p.staleBecause
                    return d
                },
            ]
        }
    }

    /// The best type of each model for one budget, with published perplexities where they exist.
    public struct Comparison: Sendable {
        /// One model's answer.
        public struct Entry: Sendable {
            public let shape: ModelShape
            public let recommendation: Recommendation
            /// The best-perplexity file type llama.cpp published a perplexity for that fits
            /// (perplexities of models with one tokenizer on one text compare across sizes).
            public let published: (estimate: MemoryEstimate, perplexity: QualityTable.Perplexity)?
        }

        public let entries: [Entry]
        public let budget: MemoryBudget
        public let context: Int

        public init(models: [ModelShape], context: Int, cacheK: GGMLType = .f16, cacheV: GGMLType = .f16,
                    budget: MemoryBudget) throws {
            var o = ContextOptions(context: context)
            o.typeK = cacheK
            o.typeV = cacheV
            entries = try models.map { s in
                let all = try MemoryPlanner.estimates(s, context: o)
                let published = QualityTable.perplexities.filter { $0.model == s.name && !$0.staleMix }
                    .sorted { $0.ppl < $1.ppl }
                    .lazy.compactMap { p in
                        all.first { $0.fileType == p.fileType && Recommender.fit($0, budget) != nil }.map { ($0, p) }
                    }.first
                return Entry(shape: s, recommendation: try Recommender.recommend(s, context: o, budget: budget),
                             published: published.map { (estimate: $0.0, perplexity: $0.1) })
            }
            self.budget = budget
            self.context = context
        }

        public func text() -> String {
            var rows = [["model", "parameters", "best type", "bpw", "total", "KLD of type", "best with published PPL", "total", "PPL"]]
            for e in entries {
                var row = [e.shape.name, PlanReport.count(e.shape.parameterCount)]
                if let c = e.recommendation.choice {
                    row += [c.fileType.name + (e.recommendation.offload.map { " (-ngl \($0.gpuLayers))" } ?? ""),
                            formatFixed(c.weights.bitsPerWeight, 2), "\(c.total)",
                            QualityTable.reference(c.fileType).map { formatFixed($0.meanKLD, 4) } ?? "-"]
                } else {
                    row += ["does not fit", "", "", ""]
                }
                if let (est, p) = e.published {
                    row += [est.fileType.name, "\(est.total)", formatFixed(p.ppl, 4)]
                } else {
                    row += ["-", "", ""]
                }
                rows.append(row)
            }
            var out = ["budget: \(PlanReport.budgetText(budget)), context \(context) tokens", ""]
            out += PlanReport.table(rows, rightAligned: [1, 3, 4, 5, 7, 8])
            out.append("")
            out.append("KLD of type: llama.cpp's Llama-3-8B measurement of that file type (\(QualityTable.llamaCppSource)).")
            let withPPL = entries.compactMap { e in e.published.map { (e.shape.name, $0.estimate.fileType, $0.perplexity) } }
            if withPPL.count >= 2, let best = withPPL.min(by: { $0.2.ppl < $1.2.ppl }) {
                out.append("lowest published perplexity that fits: \(best.0) at \(best.1.name) (\(formatFixed(best.2.ppl, 4))). "
                           + "Perplexities compare between models with one tokenizer on one text (Llama-2 7B/13B/70B share theirs). Sources:")
                out += Set(withPPL.map(\.2.source)).sorted().map { "  " + $0 }
            } else {
                out.append("no two of these models have a published perplexity at a type that fits; llama.cpp published them for "
                           + "Llama-2-7B (Q4_K_M, Q6_K, Q8_0), Llama-2-70B (Q3_K_S and up) and Llama-3-8B.")
            }
            return out.joined(separator: "\n")
        }

        public func json() -> [String: Any] {
            [
                "budget": PlanReport.budgetJSON(budget), "context": context,
                "models": entries.map { e -> [String: Any] in
                    var d: [String: Any] = ["name": e.shape.name, "parameters": e.shape.parameterCount, "reasons": e.recommendation.reasons]
                    if let c = e.recommendation.choice {
                        d["file_type"] = c.fileType.name
                        d["bits_per_weight"] = c.weights.bitsPerWeight
                        d["total_bytes"] = c.totalBytes
                        d["gpu_layers"] = e.recommendation.offload?.gpuLayers
                    }
                    if let (est, p) = e.published {
                        d["published_ppl"] = ["file_type": est.fileType.name, "total_bytes": est.totalBytes, "ppl": p.ppl,
                                              "source": p.source] as [String: Any]
                    }
                    return d
                },
            ]
        }
    }
}
