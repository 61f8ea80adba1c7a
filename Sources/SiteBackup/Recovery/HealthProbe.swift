#if canImport(Glibc)
import Glibc
#endif
import SiteSystem
import VaultCore

/// A health probe (`[recovery] probe`, `[drill] probe`): the command is run every half second
/// until it exits 0 or `timeout` seconds have passed; each attempt gets at most 30 s (and never
/// more than what is left).
enum HealthProbe {
    static func run(_ argv: [String], timeout: Double, environment: [String: String] = [:],
                    workingDirectory: String? = nil, giveUp: () -> String? = { nil }) -> ProbeResult {
        var p = ProbeResult(command: argv, result: "failed")
        let start = monotonicSeconds()
        while true {
            p.attempts += 1
            let left = max(1, timeout - (monotonicSeconds() - start))
            do {
                var cmd = Command(argv, extraEnvironment: environment, timeout: min(left, 30))
                cmd.workingDirectory = workingDirectory
                let r = try ProcessRunner().run(cmd)
                let out = (r.stderrText.isEmpty ? r.stdoutText : r.stderrText).split(separator: "\n").last.map(String.init) ?? ""
                p.detail = "\(argv.joined(separator: " ")) \(r.summary)\(out.isEmpty ? "" : ": " + String(out.prefix(300)))"
                if r.succeeded { p.result = "passed"; break }
            } catch {
                p.detail = "\(argv[0]): \((error as? VaultError)?.message ?? "\(error)")"
            }
            if let why = giveUp() { p.detail += "; \(why)"; break }
            if monotonicSeconds() - start >= timeout { break }
            usleep(500_000)
        }
        p.seconds = monotonicSeconds() - start
        return p
    }
}
