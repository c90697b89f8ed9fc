import ArgumentParser
import Foundation
import QKCore

#if canImport(Glibc)
import Glibc
#endif

/// Shared CLI plumbing: one clear error line and a non-zero exit for library errors,
/// cleanup on Ctrl-C, progress lines.
enum CLI {
    static func guarded(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let e as QuantKitError {
            FileHandle.standardError.write(Data("error: \(e.description)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// On SIGINT/SIGTERM, removes partly written outputs before exiting.
    static func removeTemporariesOnSignals() {
        // A file-size limit (ulimit -f) then surfaces as a write error, not a kill.
        signal(SIGXFSZ, SIG_IGN)
        var set = sigset_t()
        sigemptyset(&set)
        for s in [SIGINT, SIGTERM, SIGHUP] {
            signal(s) { sig in
                OutputFile.removeAllTemporaries()
                _exit(128 + sig)
            }
            sigaddset(&set, s)
        }
        // A parent may have started us with these blocked (they are inherited): unblock them.
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    static func ggmlType(_ name: String) throws -> GGMLType {
        guard let t = GGMLType(name: name) else {
            throw QuantKitError("unknown tensor type '\(name)' (valid: \(GGMLType.allCases.map(\.name).joined(separator: ", ")))")
        }
        return t
    }

    static func mib(_ bytes: Int) -> String { String(format: "%.2f MiB", Double(bytes) / 1_048_576) }

    /// "42 s", "3 min 05 s", "1 h 02 min".
    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s) s" }
        if s < 3600 { return "\(s / 60) min " + String(format: "%02d s", s % 60) }
        return "\(s / 3600) h " + String(format: "%02d min", (s % 3600) / 60)
    }

    /// Pretty-printed JSON of `value` on stdout.
    static func printJSON<T: Encodable>(_ value: T) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        FileHandle.standardOutput.write(try enc.encode(value) + Data("\n".utf8))
    }
}

/// A single status line on stderr, rewritten in place on a terminal and silent otherwise.
final class ProgressLine {
    private let enabled: Bool
    private var last = 0.0
    private var shown = false

    init(enabled: Bool) { self.enabled = enabled && isatty(STDERR_FILENO) != 0 }

    func update(_ text: @autoclosure () -> String) {
        guard enabled else { return }
        let now = Date().timeIntervalSinceReferenceDate
        guard now - last > 0.1 else { return }
        last = now
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + text()).utf8))
        shown = true
    }

    func finish() {
        if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
