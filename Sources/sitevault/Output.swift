import Foundation
import SiteBackup
import VaultCore
#if canImport(Glibc)
import Glibc
#endif

/// The only place that prints: human text, JSON, and progress lines on a terminal.
struct Output {
    let json: Bool
    let quiet: Bool

    /// One line of human output; control characters in it (from names) are escaped.
    func line(_ s: String) {
        guard !json && !quiet else { return }
        printLine(s)
    }

    /// One line on standard error; control characters in it (from names) are escaped.
    func warn(_ s: String) {
        FileHandle.standardError.write(("sitevault: " + TerminalText.escape(s) + "\n").data(using: .utf8)!)
    }

    /// A rejected control file: its heading and one line per problem, each line escaped.
    func warn(_ e: ControlFileError, prefix: String = "") {
        let lines = (prefix + e.description).components(separatedBy: "\n").map(TerminalText.escape)
        FileHandle.standardError.write(("sitevault: " + lines.joined(separator: "\n") + "\n").data(using: .utf8)!)
    }

    func emit<T: Encodable>(_ value: T) {
        guard json else { return }
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        if let d = try? enc.encode(value), let s = String(data: d, encoding: .utf8) { print(s) }
    }

    var showsProgress: Bool { !json && !quiet && isatty(2) == 1 }

    /// Runs `body` while a thread redraws `status()` on standard error twice a second (terminals only).
    func withProgress<T>(_ status: @escaping @Sendable () -> String, _ body: () async throws -> T) async rethrows -> T {
        guard showsProgress else { return try await body() }
        let ticker = ProgressTicker(status)
        ticker.start()
        defer { ticker.stop() }
        return try await body()
    }
}

final class ProgressTicker: @unchecked Sendable {
    // @unchecked: `running` is guarded by `mutex`.
    let status: @Sendable () -> String
    let mutex = Mutex()
    var running = true
    let start0 = monotonicSeconds()
    init(_ status: @escaping @Sendable () -> String) { self.status = status }
    func start() {
        Thread { [self] in
            while mutex.withLock({ running }) {
                let t = Int(monotonicSeconds() - start0)
                let text = "\r\u{1B}[K[\(t / 60):\(String(format: "%02d", t % 60))] " + TerminalText.escape(status())
                FileHandle.standardError.write(text.data(using: .utf8)!)
                usleep(500_000)
            }
        }.start()
    }
    func stop() {
        mutex.withLock { running = false }
        FileHandle.standardError.write("\r\u{1B}[K".data(using: .utf8)!)
    }
}


/// Prints one line of human output with its control characters escaped: a name holding ESC or a
/// newline can neither drive the terminal nor forge a line.
func printLine(_ s: String) { print(TerminalText.escape(s)) }

/// Runs a command body, turning library errors into a message and a documented exit code.
func runReporting(_ output: Output, _ body: () async throws -> Int32) async throws {
    let code: Int32
    do {
        code = try await body()
    } catch let e as VaultError {
        if output.json {
            output.emit(["error": ["code": e.code.rawValue, "message": e.exactDescription]])
        }
        output.warn("error: " + e.description)
        throw ExitCodeError(Exit.code(for: e))
    }
    if code != 0 { throw ExitCodeError(code) }
}

import ArgumentParser
typealias ExitCodeError = ExitCode
extension ExitCode {
    init(_ v: Int32) { self.init(rawValue: v) }
}
