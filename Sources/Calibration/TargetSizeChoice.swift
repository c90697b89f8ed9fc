import Foundation
import QKCore
import Quantization

/// Chooses the per-tensor types of a target-size plan, as `quant quantize --target-size` does:
/// measure every candidate type of every tensor (or reuse cached measurements), then, when
/// calibration text is given, weigh the estimates with the engine (sensitivity factors, cached
/// next to the measurements) and let ``PlanVerifier`` measure candidate plans and keep the best.
/// Without calibration text, the allocator's plan for the raw estimates.
public struct TargetSizeChoice {
    /// Calibration text and how to use it.
    public struct Calibration {
        /// Tokenized text (BOS included when the tokenizer adds it) and the chunks' BOS.
        public var tokens: [Int32]
        public var bos: Int32?
        /// Chunks of the text per measurement.
        public var chunks = 1
        /// Candidate plans the verifier measures (1: trust the estimate).
        public var verifyPlans = 5
        /// Also weigh activation-rounding costs (``SensitivityProbe/weigh``).
        public var activationCosts = false
        /// Also measure the best plan with FFN smoothing (``PlanVerifier/trySmoothing``).
        public var trySmoothing = true
        /// Where temporary models and logits go.
        public var workDirectory: String
        public var threads: Int?

        public init(tokens: [Int32], bos: Int32?, workDirectory: String) {
            self.tokens = tokens
            self.bos = bos
            self.workDirectory = workDirectory
        }
    }

    /// What was chosen, and what the choice was made from.
    public struct Outcome {
        public var plan: SizedPlan
        /// Sensitivity factors (with the all-base-type floor), when calibration text was given.
        public var factors: [String: Double]?
        /// Scale of the activation-rounding costs, when they were weighed.
        public var activationScale: Double?
        /// The candidate plans the verifier measured, in order, and the one kept.
        public var trials: [PlanVerifier.Trial] = []
        public var chosen: Int?
        /// Whether the plan is to be written with ``FFNSmoothing`` (the verifier measured it lower).
        public var smoothFFN: Bool { chosen.map { trials[$0].smoothed } ?? false }
    }

    public var planner: TargetSizePlanner
    /// Measurements cache (JSON): reused when it matches the model and candidates, else written.
    /// The factors go to `PATH.factors.json`.
    public var measurementsPath: String?
    public var calibration: Calibration?
    /// Progress of the long steps, one line at a time.
    public var progress: ((String) -> Void)?

    public init(planner: TargetSizePlanner, measurementsPath: String? = nil, calibration: Calibration? = nil) {
        self.planner = planner
        self.measurementsPath = measurementsPath
        self.calibration = calibration
    }

    /// The plan for `target`.
    public func choose(target: SizeTarget) throws -> Outcome {
        var planner = planner
        let progress = progress
        planner.progress = { i, n, name in progress?("measuring [\(i)/\(n)] \(name)") }
        let cached = measurementsPath.flatMap { planner.loadMeasurements(path: $0) }
        let profiles = try cached ?? planner.measure()
        // The cache holds the raw measurements: the weighing below depends on the text.
        if let measurementsPath, cached == nil { try TargetSizePlanner.saveMeasurements(profiles, path: measurementsPath) }
        guard let calibration else { return Outcome(plan: try planner.plan(target: target, profiles: profiles)) }

        let factorsPath = measurementsPath.map { $0 + ".factors.json" }
        let cachedFactors = factorsPath.flatMap { FileManager.default.contents(atPath: $0) }
            .flatMap { try? JSONDecoder().decode([String: Double].self, from: $0) }
        var probe = SensitivityProbe(planner: planner, tokens: calibration.tokens, bos: calibration.bos,
                                     workDirectory: calibration.workDirectory)
        probe.chunks = calibration.chunks
        probe.threads = calibration.threads
        probe.progress = { progress?("sensitivity: \($0)") }
        let weighed = try probe.weigh(profiles, target: target, cachedFactors: cachedFactors, activationCosts: calibration.activationCosts,
                                      weighted: { planner.profiler.imatrix?.weights(for: $0) != nil })
        if let factorsPath, weighed.factors != cachedFactors { try OutputFile.write(JSONEncoder().encode(weighed.factors), to: factorsPath) }
        guard calibration.verifyPlans > 1 || calibration.trySmoothing else {
            return Outcome(plan: try planner.plan(target: target, profiles: weighed.sets[0]),
                           factors: weighed.factors, activationScale: weighed.activationScale)
        }
        var verifier = PlanVerifier(probe: probe)
        verifier.fractions = Array(verifier.fractions.prefix(max(calibration.verifyPlans, 1)))
        verifier.trySmoothing = calibration.trySmoothing
        let (plan, trials, chosen) = try verifier.best(target: target, profileSets: weighed.sets)
        return Outcome(plan: plan, factors: weighed.factors, activationScale: weighed.activationScale, trials: trials, chosen: chosen)
    }
}
