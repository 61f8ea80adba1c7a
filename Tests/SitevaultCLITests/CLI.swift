import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Runs the `sitevault` executable built next to the test bundle.
enum CLI {
    struct Result: CustomStringConvertible {
        var status: Int32
        var stdout: String
        var stderr: String
        var stdoutData: Data
        /// True when the process ended by a signal (status is then the signal number).
        var signaled: Bool

        var description: String { "exit \(status)\(signaled ? " (signal)" : "")\n--- stdout:\n\(stdout.prefix(4000))\n--- stderr:\n\(stderr.prefix(4000))" }

        /// stdout parsed as JSON (nil if it does not parse).
        var json: Any? { try? JSONSerialization.jsonObject(with: stdoutData, options: [.fragmentsAllowed]) }
    }

    /// The sitevault executable: $SITEVAULT_CLI, else found by walking up from the test bundle / runner.
    static let executable: String = {
        if let p = ProcessInfo.processInfo.environment["SITEVAULT_CLI"], FileManager.default.isExecutableFile(atPath: p) { return p }
        var starts: [URL] = [Bundle.main.bundleURL, URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
        starts += Bundle.allBundles.map(\.bundleURL)
        for start in starts {
            var dir = start.standardizedFileURL
            for _ in 0..<6 {
                let candidate = dir.appendingPathComponent("sitevault").path
                var isDir: ObjCBool = false
                if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDir), !isDir.boolValue,
                   FileManager.default.isExecutableFile(atPath: candidate) {
                    return candidate
                }
                dir = dir.deletingLastPathComponent()
            }
        }
        return "/nonexistent/sitevault"
    }()

    /// A running process whose output goes to temporary files.
    final class Running {
        let process: Process
        let outPath: String
        let errPath: String
        var pid: Int32 { process.processIdentifier }

        init(process: Process, outPath: String, errPath: String) {
            self.process = process; self.outPath = outPath; self.errPath = errPath
        }

        /// Sends SIGKILL (no-op if the process already ended).
        func kill9() { if process.isRunning { _ = Glibc.kill(pid, SIGKILL) } }

        var isRunning: Bool { process.isRunning }

        /// Waits for the end (reaping the child) and collects the output.
        func wait(timeout: Double = 300) -> Result {
            let deadline = Date().addingTimeInterval(timeout)
            while process.isRunning && Date() < deadline { usleep(5_000) }
            if process.isRunning { kill9() }
            process.waitUntilExit()
            let out = FileManager.default.contents(atPath: outPath) ?? Data()
            let err = FileManager.default.contents(atPath: errPath) ?? Data()
            try? FileManager.default.removeItem(atPath: outPath)
            try? FileManager.default.removeItem(atPath: errPath)
            return Result(status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self),
                          stderr: String(decoding: err, as: UTF8.self), stdoutData: out,
                          signaled: process.terminationReason == .uncaughtSignal)
        }
    }

    /// Environment for the child: the test process's, without SITEVAULT_* variables, plus `env`.
    static func environment(_ env: [String: String]) -> [String: String] {
        var e = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SITEVAULT_") }
        e["SITEVAULT_INSECURE_TEST_KDF"] = "1"
        for (k, v) in env { e[k] = v }
        return e
    }

    /// Starts the executable (optionally through a wrapper such as setpriv) without waiting.
    static func start(_ args: [String], env: [String: String] = [:], stdin: Data? = nil, wrapper: [String] = [],
                      cwd: String? = nil) throws -> Running {
        let p = Process()
        if wrapper.isEmpty {
            p.executableURL = URL(fileURLWithPath: executable)
            p.arguments = args
        } else {
            p.executableURL = URL(fileURLWithPath: wrapper[0])
            p.arguments = Array(wrapper.dropFirst()) + [executable] + args
        }
        p.environment = environment(env)
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let base = NSTemporaryDirectory() + "/sitevault-cli-\(getpid())-\(UUID().uuidString)"
        let outPath = base + ".out", errPath = base + ".err"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        p.standardOutput = FileHandle(forWritingAtPath: outPath)!
        p.standardError = FileHandle(forWritingAtPath: errPath)!
        if let stdin {
            let pipe = Pipe()
            p.standardInput = pipe
            try p.run()
            pipe.fileHandleForWriting.write(stdin)
            try? pipe.fileHandleForWriting.close()
        } else {
            p.standardInput = FileHandle(forReadingAtPath: "/dev/null")!
            try p.run()
        }
        return Running(process: p, outPath: outPath, errPath: errPath)
    }

    /// Runs the executable to the end and returns its status and output.
    @discardableResult
    static func run(_ args: [String], env: [String: String] = [:], stdin: Data? = nil, wrapper: [String] = [],
                    cwd: String? = nil, timeout: Double = 300) throws -> Result {
        let t0 = Date()
        let r = try start(args, env: env, stdin: stdin, wrapper: wrapper, cwd: cwd).wait(timeout: timeout)
        if trace {
            FileHandle.standardError.write(Data("[cli] \(String(format: "%.3f", Date().timeIntervalSince(t0))) s  exit \(r.status)  \(args.joined(separator: " ").prefix(120))\n".utf8))
        }
        return r
    }

    /// Set SITEVAULT_CLI_TRACE=1 to print every command and its duration on stderr.
    static let trace = ProcessInfo.processInfo.environment["SITEVAULT_CLI_TRACE"] == "1"
}
