import Foundation
import Quantization

/// The error estimates a target-size plan is chosen from, once the engine has weighed them:
/// sensitivity factors per tensor class and band, and the cost of rounding each matrix's input
/// to its type's activation format.
public struct WeighedProfiles {
    /// KLD per unit of weighted error, by class and band, plus the all-base-type floor
    /// (``SensitivityProbe/floorKey``).
    public var factors: [String: Double]
    /// Scale applied to the activation-rounding costs (``ActivationRounding/floorScale``); nil
    /// when they were not measured.
    public var activationScale: Double?
    /// The sets to build candidate plans from, preferred first: the first is the allocator's
    /// best guess, the others are measured by the verifier as alternatives.
    public var sets: [[TensorProfile]]
}

extension SensitivityProbe {
    /// Weighs raw `profiles` (weights' error only) with factors (measured now unless `cached`
    /// holds them with their floor) and activation-rounding costs measured on the probe's text.
    ///
    /// Sets, in order: the trusted range (≥ 3 bits per weight), then every candidate; the
    /// trusted range only when it can meet `target`. With `activationCosts`, the same sets with
    /// activation-rounding costs added come first (the plain ones stay, so the verifier still
    /// measures the plans chosen without those costs).
    ///
    /// Activation costs are off by default: on Gemma-3-270M at the Q4_K_M size, the plans they
    /// lead to measured 2.8× the KLD of the plain plan on the calibration text (the allocator
    /// trades many near-equal estimates at once, and several of them were wrong).
    public func weigh(_ profiles: [TensorProfile], target: SizeTarget?, cachedFactors cached: [String: Double]?,
                      activationCosts: Bool = false, weighted: (String) -> Bool) throws -> WeighedProfiles {
        var factors = cached
        if factors?[Self.floorKey] == nil { factors = try measure(profiles: profiles) }
        let all = Self.apply(factors!, to: profiles)
        let trusted = Self.apply(factors!, to: profiles, trustedRangeOnly: true)
        let trustedFits = target.map { (try? planner.plan(target: $0, profiles: trusted)) != nil } ?? true
        let plain = trustedFits ? [trusted, all] : [all]
        guard activationCosts else { return WeighedProfiles(factors: factors!, activationScale: nil, sets: plain) }
        let costs = try ActivationRounding.costs(try activationRounding(), profiles: profiles, model: planner.model, weighted: weighted)
        let scale = ActivationRounding.floorScale(measured: factors![Self.floorKey]!, costs: costs, profiles: all)
        return WeighedProfiles(factors: factors!, activationScale: scale,
                               sets: plain.map { ActivationRounding.apply(costs, to: $0, scale: scale) } + plain)
    }
}
