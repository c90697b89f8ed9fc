import Foundation
import GGUF
import QKCore
import Quantization

/// Picks a target-size plan by measuring candidates with the engine instead of trusting the
/// error model alone.
///
/// The allocator adds up per-tensor error estimates, and those are linear approximations:
/// swapping many small estimated losses for one large estimated gain can look neutral on
/// paper and be clearly worse in the model. On SmolLM2 the plan for a 93.5 MB budget was
/// measured at 2.8× the KL divergence of the plan for 88.2 MB. So several plans that all fit
/// the target are written and run on the calibration text: the allocator's plans for the
/// target and for a few smaller budgets (each fits the target too), from every profile set
/// given (e.g. with and without the 2-bit candidates); the one with the lowest measured mean
/// KL divergence wins. Costs one quantization and one short evaluation per distinct plan.
public struct PlanVerifier {
    public var probe: SensitivityProbe
    /// Budgets tried, as fractions of the target.
    public var fractions: [Double] = [1, 0.985, 0.97, 0.955, 0.94]
    /// Also measure the best plan with its FFN channels smoothed (``FFNSmoothing``; needs the
    /// planner's imatrix and a layer that qualifies), and keep that when it measures lower.
    public var trySmoothing = false

    public init(probe: SensitivityProbe) { self.probe = probe }

    /// One measured candidate plan.
    public struct Trial: Sendable {
        public var fraction: Double
        public var profileSet: Int
        public var fileBytes: Int
        public var estimated: Double
        public var measured: Double
        /// Written with ``FFNSmoothing``.
        public var smoothed = false
    }

    /// The best measured plan for `target` among those built from `profileSets` (sets whose
    /// plans cannot meet a budget are skipped), every trial in the order measured, and the
    /// index of the chosen one (nil when there was only one plan to choose; a chosen trial that
    /// is `smoothed` means the plan is to be written with ``FFNSmoothing``).
    public func best(target: SizeTarget, profileSets: [[TensorProfile]]) throws -> (plan: SizedPlan, trials: [Trial], chosen: Int?) {
        var candidates: [(plan: SizedPlan, fraction: Double, set: Int)] = []
        var seen = Set<[String: GGMLType]>()
        var targetBytes: Int?
        for (k, profiles) in profileSets.enumerated() {
            for f in fractions {
                guard let sized = try? probe.planner.plan(target: target.scaled(f), profiles: profiles) else { continue }
                if f == 1 { targetBytes = targetBytes ?? sized.target }
                guard seen.insert(sized.types).inserted else { continue }
                candidates.append((sized, f, k))
            }
        }
        // No set meets the target: let the allocator say why.
        guard !candidates.isEmpty else { return (try probe.planner.plan(target: target, profiles: profileSets[0]), [], nil) }
        for i in candidates.indices { candidates[i].plan.target = targetBytes }
        // Smoothing is tried on the best plan, when that plan has a layer it changes.
        let smoothes = { (plan: SizedPlan) in
            trySmoothing && probe.planner.profiler.imatrix.map { FFNSmoothing(plan: plan.plan, imatrix: $0).layerCount > 0 } == true
        }
        if candidates.count == 1 && !smoothes(candidates[0].plan) { return (candidates[0].plan, [], nil) }
        // Trial i measures candidates[i]; a smoothed trial (last) re-measures the best of them.
        let (trials, source) = try probe.withReference { kld in
            var trials = try candidates.enumerated().map { i, c in
                let m = try kld(c.plan.types, "plan \(i + 1)/\(candidates.count) (\(c.plan.fileBytes) bytes)", false)
                return Trial(fraction: c.fraction, profileSet: c.set, fileBytes: c.plan.fileBytes, estimated: c.plan.totalError, measured: m)
            }
            var source = Array(candidates.indices)
            let best = trials.indices.min { trials[$0].measured < trials[$1].measured }!
            if smoothes(candidates[best].plan) {
                var t = trials[best]
                t.measured = try kld(candidates[best].plan.types, "plan \(best + 1) with FFN smoothing", true)
                t.smoothed = true
                trials.append(t)
                source.append(best)
            }
            return (trials, source)
        }
        let winner = trials.indices.min { trials[$0].measured < trials[$1].measured }!
        return (candidates[source[winner]].plan, trials, winner)
    }
}
