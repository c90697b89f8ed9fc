import Foundation
import GGUF
import QKCore
import QuantFormats

/// A quantization plan chosen to fit a size: one type per tensor, with what each costs.
public struct SizedPlan: Sendable {
    /// The tensors in output order with their chosen types (ready for ``GGUFQuantizer/run``).
    public var plan: [PlannedTensor]
    public var metadata: GGUFMetadata
    /// Exact size of the file the plan writes: header, metadata, tensor data and padding.
    public var fileBytes: Int
    /// Bytes of the header and metadata, padded to the alignment.
    public var headerBytes: Int
    /// Estimated error of each tensor's chosen type (0 for tensors kept as they are).
    public var estimatedError: [String: Double]
    /// The measurements the choice was made from (quantizable tensors only).
    public var profiles: [TensorProfile]
    /// The budget the tensor data had to fit (nil when the plan was replayed from a file).
    public var target: Int?
    public var totalError: Double { estimatedError.values.reduce(0, +) }
    /// Each tensor's chosen type (what ``TargetSizePlanner/plan(types:profiles:)`` replays).
    public var types: [String: GGMLType] { Dictionary(uniqueKeysWithValues: plan.map { ($0.name, $0.outputType) }) }
    /// The name llama.cpp's loader shows for `general.file_type` (the dominant type's mix).
    public var fileTypeName: String
}

/// Plans a quantization to a target size: measures every candidate type of every quantizable
/// tensor, then picks the types with the least total estimated error that fit.
public struct TargetSizePlanner {
    public let model: GGUFModel
    public var profiler: ErrorProfiler
    public var imatrixPath: String?
    /// Called after each tensor is measured (index, count, name).
    public var progress: ((Int, Int, String) -> Void)?

    /// Loads the importance matrix (if any) and prepares the measurements.
    public init(model: GGUFModel, imatrixPath: String?, candidates: [GGMLType] = ErrorProfiler.defaultCandidates) throws {
        self.model = model
        self.imatrixPath = imatrixPath
        let imatrix = try imatrixPath.map { try ImportanceMatrix(path: $0) }
        let alignment = model.metadata["general.alignment"]?.int ?? GGUFFile.defaultAlignment
        profiler = ErrorProfiler(candidates: candidates, imatrix: imatrix, alignment: alignment)
    }

    var architecture: String { model.metadata["general.architecture"]?.string ?? "" }
    var tiedOutput: Bool { model.tensor(named: "output.weight") == nil }

    /// Tensors in the order they are written (llama-quantize's order), and whether each may be quantized.
    func orderedTensors() -> [(info: GGUFTensorInfo, quantizable: Bool)] {
        TensorOrder.sortedIndices(model.tensors.map(\.name)).map { i in
            let t = model.tensors[i]
            let reason = TensorQuantizability.exclusionReason(name: t.name, shape: t.shape, architecture: architecture)
            return (t, reason == nil && (t.type.isFloat || QuantCodec.codec(t.type) != nil))
        }
    }

    /// Measures every quantizable tensor (the slow part).
    public func measure() throws -> [TensorProfile] {
        let tensors = orderedTensors().filter(\.quantizable).map(\.info)
        return try tensors.enumerated().map { i, t in
            let p = try profiler.profile(t, in: model, tiedOutput: tiedOutput)
            progress?(i + 1, tensors.count, t.name)
            return p
        }
    }

    /// Measurements saved by an earlier run (JSON), if they cover exactly this model's
    /// quantizable tensors and at least the candidate types (others are dropped); nil otherwise.
    public func loadMeasurements(path: String) -> [TensorProfile]? {
        guard let data = FileManager.default.contents(atPath: path),
              let profiles = try? JSONDecoder().decode([TensorProfile].self, from: data) else { return nil }
        let tensors = orderedTensors().filter(\.quantizable).map(\.info)
        guard profiles.map(\.name) == tensors.map(\.name) else { return nil }
        var out = profiles
        for (i, t) in tensors.enumerated() {
            let usable = Set(profiler.usableTypes(for: t))
            guard usable.isSubset(of: Set(profiles[i].candidates.map(\.type))) else { return nil }
            out[i].candidates.removeAll { !usable.contains($0.type) }
        }
        return out
    }

    /// Saves measurements for ``loadMeasurements(path:)``.
    public static func saveMeasurements(_ profiles: [TensorProfile], path: String) throws {
        try OutputFile.write(JSONEncoder().encode(profiles), to: path)
    }

    /// The plan with the least total estimated error whose file fits `target`.
    /// Throws, naming the smallest reachable file size, when nothing fits.
    public func plan(target: SizeTarget, profiles: [TensorProfile]) throws -> SizedPlan {
        let ordered = orderedTensors()
        let byName = Dictionary(profiles.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let header = headerBytes()
        var fixed = 0
        var items: [[BitAllocator.Option]] = []
        var itemProfiles: [TensorProfile] = []
        for (info, quantizable) in ordered {
            if quantizable, let p = byName[info.name], !p.candidates.isEmpty {
                items.append(p.candidates.map { .init(bytes: $0.bytes, error: $0.error) })
                itemProfiles.append(p)
            } else {
                fixed += profiler.padded(info.byteCount)
            }
        }
        let elements = ordered.reduce(0) { $0 + $1.info.elementCount }
        let dataBudget: Int
        let described: String
        switch target {
        case .fileBytes(let b):
            dataBudget = b - header - fixed
            described = "\(b) bytes"
        case .bitsPerWeight(let bpw):
            dataBudget = Int((bpw * Double(elements) / 8).rounded(.down)) - fixed
            described = String(format: "%.4g bits per weight (%d bytes of tensor data)", bpw, dataBudget + fixed)
        }
        let minimum = BitAllocator.minimumBytes(items)
        guard let solution = BitAllocator.solve(items, budget: dataBudget) else {
            let minFile = header + fixed + minimum
            let minBpw = Double((fixed + minimum) * 8) / Double(max(elements, 1))
            throw QuantKitError("target \(described) is too small: the smallest file these candidate types reach is \(minFile) bytes "
                                + "(\(String(format: "%.3f", minBpw)) bits per weight)")
        }
        var choice: [String: CandidateCost] = [:]
        for (k, p) in itemProfiles.enumerated() { choice[p.name] = p.candidates[solution.choices[k]] }
        return assemble(ordered: ordered, choice: choice, profiles: profiles, target: dataBudget + (header + fixed))
    }

    /// A plan from explicit `NAME=TYPE` choices (``PlanFile``); unlisted tensors keep their type.
    public func plan(types: [String: GGMLType], profiles: [TensorProfile] = []) throws -> SizedPlan {
        let ordered = orderedTensors()
        let known = Set(ordered.map(\.info.name))
        if let unknown = types.keys.sorted().first(where: { !known.contains($0) }) {
            throw QuantKitError("plan names tensor '\(unknown)' that is not in the model", path: model.paths[0])
        }
        let byName = Dictionary(profiles.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var choice: [String: CandidateCost] = [:]
        for (info, quantizable) in ordered {
            guard let t = types[info.name], t != info.type else { continue }
            guard quantizable else {
                throw QuantKitError("plan gives '\(info.name)' type \(t.name), but that tensor is never quantized")
            }
            guard info.rowLength % t.blockSize == 0 else {
                throw QuantKitError("plan gives '\(info.name)' type \(t.name), whose block size \(t.blockSize) does not divide its row length \(info.rowLength)")
            }
            let err = byName[info.name]?.candidates.first { $0.type == t }?.error ?? 0
            choice[info.name] = CandidateCost(type: t, bytes: profiler.padded(t.rowSize(info.rowLength) * info.rowCount), error: err)
        }
        return assemble(ordered: ordered, choice: choice, profiles: profiles, target: nil)
    }

    private func assemble(ordered: [(info: GGUFTensorInfo, quantizable: Bool)], choice: [String: CandidateCost],
                          profiles: [TensorProfile], target: Int?) -> SizedPlan {
        var plan: [PlannedTensor] = []
        var errors: [String: Double] = [:]
        var bytesByType: [GGMLType: Int] = [:]
        for (info, _) in ordered {
            let c = choice[info.name]
            let type = c?.type ?? info.type
            plan.append(PlannedTensor(name: info.name, shape: info.shape, inputType: info.type, outputType: type,
                                      requiresImportance: QuantCodec.requiresImportance(type)))
            errors[info.name] = c?.error ?? 0
            if type.isQuantized { bytesByType[type, default: 0] += info.shape.reduce(1, *) }
        }
        let dominant = bytesByType.max { $0.value < $1.value }?.key ?? .f32
        let fileType = Self.fileType(for: dominant)
        let md = metadata(fileType: fileType)
        let header = headerBytes()
        let data = plan.reduce(0) { $0 + profiler.padded($1.outputBytes) }
        return SizedPlan(plan: plan, metadata: md, fileBytes: header + data, headerBytes: header, estimatedError: errors,
                         profiles: profiles, target: target, fileTypeName: fileType.name)
    }

    /// The output metadata as llama-quantize writes it (file type, imatrix provenance).
    func metadata(fileType: FileType) -> GGUFMetadata {
        QuantizeJob.outputMetadata(metadata: model.metadata, tensorTypes: model.tensors.map(\.type), fileType: fileType,
                                   isCopy: false, imatrix: profiler.imatrix, imatrixArgument: imatrixPath, overrides: [])
    }

    /// Header, metadata and tensor infos, padded: the same whatever types are chosen (a type
    /// is a fixed-size field, and the file-type value is a UINT32).
    public func headerBytes() -> Int {
        let infos = orderedTensors().map { GGUFTensorInfo(name: $0.info.name, type: $0.info.type, shape: $0.info.shape) }
        return profiler.padded(GGUFWriter.encodeHeader(metadata: metadata(fileType: .q4_K_M), tensors: infos).count)
    }

    /// The file type recorded for a plan whose most common type is `type`.
    static func fileType(for type: GGMLType) -> FileType {
        let preferred: [GGMLType: FileType] = [.q2_K: .q2_K, .q3_K: .q3_K_M, .q4_K: .q4_K_M, .q5_K: .q5_K_M, .q6_K: .q6_K,
                                               .iq2_xs: .iq2_XS, .iq3_s: .iq3_S, .iq2_s: .iq2_M]
        return preferred[type] ?? FileType.allCases.first { $0.defaultType == type } ?? .f32
    }
}
