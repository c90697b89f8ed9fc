import Foundation
import QKCore

/// Matrices that read one input, and the input's width: the unit a Hessian source fills.
public struct HessianGroup: Sendable, Equatable {
    /// The matrices' names (q/k/v, gate/up, or one matrix).
    public let names: [String]
    /// Input width: the moment is n × n.
    public let n: Int

    public init(names: [String], n: Int) {
        self.names = names
        self.n = n
    }

    /// The name the group is known by (and saved under): the first of its names, sorted.
    public var key: String { names.min()! }
    /// Bytes of its moment.
    public var bytes: Int { n * n * 4 }
}

/// Where streamed Hessians come from: a saved file, or passes of the engine over calibration
/// text. A source knows its groups before computing anything.
public protocol HessianSource: AnyObject {
    /// Every input with statistics, in the order the source produces them most cheaply.
    var groups: [HessianGroup] { get }
    /// Computes the moments of `groups` (indices into `groups`), in that order.
    func load(_ groups: [Int]) throws -> [Hessians.Moment]
    /// Tokens behind group `g`'s moment, once known (a calibration source knows every group's
    /// after its first pass).
    func rows(of group: Int) -> Int64?
}

extension Hessians {
    /// Tells a streamed set the order in which matrices will be asked for (the quantizer's
    /// tensor order), so each window holds the inputs needed next. A new run over the set: inputs
    /// released by an earlier one are loaded again when asked for.
    public func expect(_ names: [String]) {
        lock.withLock {
            guard source != nil else { return }
            finished.removeAll()
            var seen = Set<Int>()
            var o = names.compactMap { groupOf[$0] }.filter { seen.insert($0).inserted }
            o += order.filter { seen.insert($0).inserted }   // the rest, in the source's order
            order = o
        }
    }

    /// The moment of matrix `name`, loading it (and the inputs asked for after it, as many as
    /// fit the budget) from the source when streamed. Nil when `name` has no statistics or its
    /// group was already released.
    public func prepare(_ name: String) throws -> Moment? {
        let window: [Int] = lock.withLock {
            if byName[name] != nil { return [] }
            guard let g = groupOf[name], !finished.contains(g), let source else { return [] }
            var held = heldBytes() + source.groups[g].bytes
            var w = [g]
            let after = order.firstIndex(of: g).map { order[($0 + 1)...] } ?? []
            for h in after where !finished.contains(h) && byName[source.groups[h].names[0]] == nil {
                guard held + source.groups[h].bytes <= budget else { break }
                held += source.groups[h].bytes
                w.append(h)
            }
            return w
        }
        if let source, !window.isEmpty {
            let moments = try source.load(window)
            precondition(moments.count == window.count)
            lock.withLock {
                for (g, m) in zip(window, moments) {
                    for n in source.groups[g].names { byName[n] = m }
                }
                peakBytes = max(peakBytes, heldBytes())
            }
        }
        return moment(for: name)
    }

    /// Every group of a streamed set in saving order (by key), cut into windows that fit the
    /// budget: how `write(to:)` streams them (and about how many loads quantizing takes).
    public func savingWindows() -> [[Int]] {
        guard let source else { return [] }
        let sorted = source.groups.indices.sorted { source.groups[$0].key < source.groups[$1].key }
        var windows: [[Int]] = []
        var held = 0
        for g in sorted {
            let b = source.groups[g].bytes
            if windows.isEmpty || held + b > budget {
                windows.append([g])
                held = b
            } else {
                windows[windows.count - 1].append(g)
                held += b
            }
        }
        return windows
    }
}
