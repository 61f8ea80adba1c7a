import ArgumentParser
import Foundation
import SiteBackup
import VaultCore
#if canImport(Glibc)
import Glibc
#endif

/// Options of every `sitevault site …` command.
struct SiteOptions: ParsableArguments {
    @Option(name: .long, help: "The site's control file (default: $SITEVAULT_SITE).")
    var site: String?

    @Flag(name: .long, help: "Print machine-readable JSON on standard output.")
    var json = false

    @Flag(name: [.short, .long], help: "Print only warnings and errors.")
    var quiet = false

    var output: Output { Output(json: json, quiet: quiet) }

    var controlFile: String {
        get throws {
            guard let s = site ?? ProcessInfo.processInfo.environment["SITEVAULT_SITE"], !s.isEmpty else {
                throw ValidationError("no control file given: pass --site FILE or set SITEVAULT_SITE")
            }
            return s
        }
    }

    /// Loads the control file; a rejected one is printed (every problem with file:line:column)
    /// and ends the command with exit code 78 before anything else happens.
    /// `checkPaths: false` for recovery and drills: the site's paths may be gone (that is why).
    /// `refusing` (for commands that run what the file says: backup, recover, drill) also refuses, with
    /// exit code 78, a control or password file that other users may change, or a password file they
    /// may read; it says what was not done.
    func load(checkPaths: Bool = true, refusing: String? = nil) throws -> SiteConfig {
        let out = output
        do {
            let c = try ControlFile.load(path: try controlFile, checkPaths: checkPaths)
            if let refusing { try ControlFile.checkFilePermissions(c, refusing: refusing) }
            return c
        } catch let e as ControlFileError {
            if json {
                out.emit(["error": ["code": "control-file", "message": e.description]])
            }
            out.warn(e)
            throw ExitCodeError(SiteExit.controlFile)
        } catch let e as VaultError {
            out.warn("error: " + e.description)
            throw ExitCodeError(SiteExit.controlFile)
        }
    }
}

/// Exit codes of the site commands (README, docs/status-messages.md).
enum SiteExit {
    static let controlFile: Int32 = 78
    static let hookProblem: Int32 = 5

    static func code(for r: RunReport) -> Int32 {
        switch r.result {
        case "succeeded": return r.hook == "failed" || r.hook == "refused" ? hookProblem : 0
        case "partial": return Exit.partial
        case "aborted": return Exit.interrupted
        default: break
        }
        switch r.failure {
        case .controlFile?: return controlFile
        case .destinationMissing?: return Exit.noRepository
        case .locked?: return Exit.locked
        case .wrongPassword?: return Exit.wrongPassword
        case .destinationUnwritable?: return 20
        case .destinationFull?, .stagingSpace?: return 21
        case .freezeFailed?: return 22
        case .componentUnavailable?, .componentFailed?: return 23
        case .alreadyRunning?: return 24
        case .thawFailed?: return 25
        case .commitFailed?: return 26
        case .aborted?: return Exit.interrupted
        default: return Exit.failure
        }
    }
}

struct SiteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "site",
        abstract: "Back up a whole site (databases, configuration, folders, install media) as its control file says.",
        discussion: """
        The control file (site.toml, see docs/control-file.md) names the site's components, the writers \
        that freeze and thaw them, the repositories, the hooks and the alerts.

        Exit codes of `site backup`: 0 success, 3 snapshot committed but marked partial, 5 committed but the \
        after-backup hook failed or was refused, 10 repository missing, 11 repository locked, 12 wrong password, \
        20 destination not writable, 21 destination or staging folder full, 22 a writer could not freeze, \
        23 a component is unavailable or failed (nothing committed), 24 another run of the site is active, \
        25 a writer could not thaw (act now), 26 commit failed, 78 invalid control file, 130 interrupted.
        `site status` exits 0 when healthy, 1 on a warning, 2 when unhealthy (failed, stale or frozen), 3 when the status store cannot be read.
        """,
        subcommands: [SiteBackupCommand.self, SiteStatusCommand.self, SiteMessagesCommand.self, SiteShowCommand.self,
                      SiteThawCommand.self, SiteForgetCommand.self, SiteRecoverCommand.self, SiteDrillCommand.self]
    )
}

struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a control file: every problem is listed with file, line, column and reason.",
        discussion: "Exit code 0 when the file is valid (warnings are printed), 78 when it is not. Nothing is run."
    )
    @OptionGroup var options: SiteOptions

    func run() async throws {
        let config = try options.load()
        let out = options.output
        struct Summary: Encodable {
            var valid = true; var site: String; var file: String; var components: [String]; var writers: [String]
            var repositories: [String: String]; var schedule: String?; var timeZone: String; var stateDir: String; var warnings: [String]
            var consistency: String
        }
        out.emit(Summary(site: config.site, file: config.file, components: config.components.map { "\($0.name) (\($0.kind.rawValue))" },
                         writers: config.writers.map { "\($0.name) (\($0.kind.rawValue))" },
                         repositories: config.destinations.mapValues(\.path), schedule: config.schedule.calendar?.text,
                         timeZone: config.timeZone.rawValue, stateDir: config.stateDir, warnings: config.warnings,
                         consistency: config.consistency.rawValue))
        for w in config.warnings { out.warn("warning: " + w) }
        out.line("\(config.file): valid control file for site \(config.site)")
        out.line("  components: " + config.components.map { "\($0.name) (\($0.kind.rawValue))" }.joined(separator: ", "))
        if !config.writers.isEmpty { out.line("  writers:    " + config.writers.map { "\($0.name) (\($0.kind.rawValue): \($0.components.joined(separator: ", ")))" }.joined(separator: "; ")) }
        if !config.writers.isEmpty {
            out.line("  freezing:   " + (config.consistency == .site ? "one window for the whole site (consistency = \"site\")" : "writer by writer (consistency = \"component\")"))
        }
        for (n, d) in config.destinations.sorted(by: { $0.key < $1.key }) { out.line("  repository \(n): \(d.path)") }
        out.line("  schedule:   \(config.schedule.calendar?.text ?? "none") (time zone \(config.timeZone.rawValue))")
        out.line("  state:      \(config.stateDir)")
    }
}
