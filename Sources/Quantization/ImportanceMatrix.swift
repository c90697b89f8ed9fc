import GGUF
import QKCore

/// Per-column importance weights for weight matrices, as llama-quantize loads them from an
/// importance-matrix file (llama.cpp's GGUF imatrix or the legacy `.dat`).
///
/// For each tensor, `weights(for:)` gives one value per input column (per expert for 3-D
/// tensors, experts concatenated): the mean squared activation that entered that column.
public struct ImportanceMatrix: Sendable {
    /// Normalised weights by tensor name (sums / counts, as llama-quantize computes them).
    public private(set) var entries: [String: [Float]]
    /// Calibration datasets recorded in the file.
    public var datasets: [String]
    /// Number of chunks the matrix was computed on (0 if unknown).
    public var chunkCount: Int
    /// Chunk size in tokens (0 if unknown or legacy).
    public var chunkSize: Int
    /// True when loaded from a legacy `.dat` file.
    public var isLegacy: Bool
    /// Path it was loaded from.
    public var path: String

    /// Loads a GGUF imatrix or, if the file is not GGUF, a legacy `.dat` imatrix.
    public init(path: String) throws {
        try self.init(ImatrixData(path: path), path: path)
    }

    /// The normalised view of collected or loaded statistics.
    public init(_ data: ImatrixData, path: String) {
        entries = data.normalized()
        datasets = data.datasets
        chunkCount = data.storedChunkCount
        chunkSize = data.chunkSize
        isLegacy = data.isLegacy
        self.path = path
    }

    /// The weights for `tensor`, if the matrix has an entry for it.
    public func weights(for tensor: String) -> [Float]? { entries[tensor] }

    /// Drops entries, as llama-quantize's --include-weights/--exclude-weights do (substring match).
    public mutating func filter(include: [String], exclude: [String]) {
        if !exclude.isEmpty {
            entries = entries.filter { e in !exclude.contains { e.key.contains($0) } }
        }
        if !include.isEmpty {
            entries = entries.filter { e in include.contains { e.key.contains($0) } }
        }
    }
}
