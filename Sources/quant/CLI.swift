import ArgumentParser
import Foundation
import QKCore

/// Shared CLI plumbing: turns library errors into one clear line and a non-zero exit.
enum CLI {
    static func guarded(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let e as QuantKitError {
            FileHandle.standardError.write(Data("error: \(e.description)\n".utf8))
            throw ExitCode(1)
        }
    }
}
