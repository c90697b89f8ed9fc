import Evaluation
import Foundation
import Inference
import QKCore
import Quantization

/// What one `quant imatrix` run produced.
public struct ImatrixResult: Sendable {
    /// The statistics (raw sums and counts), ready to write.
    public var data: ImatrixData
    /// Perplexity of the calibration text over the same chunks (second half of each, as
    /// llama-imatrix prints it): a free sanity check that the model ran as it should.
    public var perplexity: PerplexityReport
}

/// llama-imatrix's procedure: the calibration text, tokenized once with BOS, is cut into
/// chunks of the context length (the first token of each replaced by BOS when the vocabulary
/// adds one); each chunk runs from an empty cache through the whole model, and every matrix
/// multiplication's input is accumulated by an `ImatrixCollector`.
public struct ImatrixRunner {
    public let session: Session

    public init(session: Session) { self.session = session }

    /// Runs over `tokens` (BOS included when the tokenizer adds it). `dataset` names the text
    /// in the file; `start` holds earlier statistics to add to (`--in-file`).
    public func run(tokens: [Int32], bos: Int32?, chunks: Int? = nil, dataset: String, startingFrom start: ImatrixData? = nil,
                    includeOutput: Bool = false, progress: (ChunkProgress) -> Void = { _ in }) throws -> ImatrixResult {
        let collector = ImatrixCollector(chunkSize: session.contextLength, includeOutput: includeOutput, startingFrom: start)
        session.activationObserver = collector
        defer { session.activationObserver = nil }
        let report = try PerplexityRunner(session: session).run(tokens: tokens, bos: bos, chunks: chunks) { p in
            progress(p)
        }
        if let bad = collector.nonFinite {
            throw QuantKitError("non-finite activation statistics for \(bad): the model produced inf/NaN on this text", path: session.model.path)
        }
        var data = collector.data
        data.datasets.append(dataset)
        data.storedChunkCount = data.chunkCount
        return ImatrixResult(data: data, perplexity: report)
    }
}
