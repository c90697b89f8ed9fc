/// The error every QuantKit module throws: what went wrong, and with which file.
///
/// Messages are written for the person at the terminal: they name the file and the problem
/// (e.g. "model.gguf: tensor 'blk.0.attn_q.weight' data lies outside the file").
public struct QuantKitError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file (or directory) concerned, if any.
    public var path: String?
    /// What is wrong, in plain words.
    public var message: String

    public init(_ message: String, path: String? = nil) {
        self.message = message
        self.path = path
    }

    public var description: String {
        if let path { return "\(path): \(message)" }
        return message
    }
}
