/// Chooses one option per item (one type per tensor) to minimise the total error under a
/// byte budget: a multiple-choice knapsack.
///
/// Solved by dynamic programming over Pareto frontiers: after each item, the frontier holds
/// every reachable (bytes, error) pair that no other pair beats on both, with bytes that still
/// leave room for the cheapest options of the items to come. This is exact; when a frontier
/// grows past `frontierLimit` points it is thinned to the best point per byte bucket, which
/// keeps the result within one bucket's width of the optimum (a few kilobytes for real models).
public enum BitAllocator {
    /// One choice for one item.
    public struct Option: Sendable, Equatable {
        public var bytes: Int
        public var error: Double
        public init(bytes: Int, error: Double) { self.bytes = bytes; self.error = error }
    }

    /// The chosen option index per item, with totals.
    public struct Solution: Sendable, Equatable {
        public var choices: [Int]
        public var bytes: Int
        public var error: Double
    }

    /// The least total bytes any choice can reach.
    public static func minimumBytes(_ items: [[Option]]) -> Int {
        items.reduce(0) { $0 + ($1.map(\.bytes).min() ?? 0) }
    }

    /// The choice of one option per item with the least total error whose bytes do not exceed
    /// `budget`; nil when even the cheapest options exceed it. Every item needs ≥ 1 option.
    public static func solve(_ items: [[Option]], budget: Int, frontierLimit: Int = 16384) -> Solution? {
        precondition(items.allSatisfy { !$0.isEmpty }, "every item needs an option")
        // Cheapest bytes of items i... (room the later items need at least).
        var tailMin = [Int](repeating: 0, count: items.count + 1)
        for i in stride(from: items.count - 1, through: 0, by: -1) { tailMin[i] = tailMin[i + 1] + items[i].map(\.bytes).min()! }
        guard tailMin[0] <= budget else { return nil }

        var stages: [[Point]] = []
        stages.reserveCapacity(items.count)
        var frontier = [Point(bytes: 0, error: 0, parent: -1, option: -1)]
        for (i, options) in items.enumerated() {
            let room = budget - tailMin[i + 1]
            var next: [Point] = []
            next.reserveCapacity(frontier.count * options.count)
            for (p, point) in frontier.enumerated() {
                for (o, opt) in options.enumerated() where point.bytes + opt.bytes <= room {
                    next.append(Point(bytes: point.bytes + opt.bytes, error: point.error + opt.error, parent: Int32(p), option: Int32(o)))
                }
            }
            next.sort { $0.bytes != $1.bytes ? $0.bytes < $1.bytes : $0.error < $1.error }
            // Pareto filter: keep a point only if its error is below every cheaper point's.
            var pareto: [Point] = []
            pareto.reserveCapacity(next.count)
            for q in next where pareto.isEmpty || q.error < pareto[pareto.count - 1].error {
                if let last = pareto.last, last.bytes == q.bytes { pareto[pareto.count - 1] = q } else { pareto.append(q) }
            }
            if pareto.count > frontierLimit { pareto = thin(pareto, to: frontierLimit) }
            stages.append(pareto)
            frontier = pareto
        }
        guard let best = frontier.min(by: { $0.error != $1.error ? $0.error < $1.error : $0.bytes < $1.bytes }) else { return nil }
        var choices = [Int](repeating: 0, count: items.count)
        var index = frontier.firstIndex { $0.bytes == best.bytes && $0.error == best.error }!
        for i in stride(from: items.count - 1, through: 0, by: -1) {
            let p = stages[i][index]
            choices[i] = Int(p.option)
            index = Int(p.parent)
        }
        return Solution(choices: choices, bytes: best.bytes, error: best.error)
    }

    /// Keeps the lowest-error point of each of `limit` equal byte ranges (a Pareto frontier
    /// sorted by bytes has its lowest error last in each range).
    private static func thin(_ points: [Point], to limit: Int) -> [Point] {
        let lo = points[0].bytes, hi = points[points.count - 1].bytes
        let width = max(1, (hi - lo) / limit + 1)
        var out: [Point] = []
        out.reserveCapacity(limit + 1)
        for (k, p) in points.enumerated() {
            let bucket = (p.bytes - lo) / width
            if k + 1 == points.count || (points[k + 1].bytes - lo) / width != bucket { out.append(p) }
        }
        return out
    }
}

/// A reachable (bytes, error) pair and how it was reached.
private struct Point {
    var bytes: Int
    var error: Double
    var parent: Int32
    var option: Int32
}
