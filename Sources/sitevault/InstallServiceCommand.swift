import ArgumentParser
import Foundation
import SiteBackup
import SiteSystem
import VaultFileSystem
import VaultCore
#if canImport(Glibc)
import Glibc
#endif

struct InstallServiceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "install-service",
        abstract: "Install the systemd units: sitevault.service (the service) and sitevault-backup@.service/.timer.",
        discussion: """
        Every --site control file is validated first; nothing is written if one is invalid. The units \
        get this sitevault's path. Then: systemctl enable --now sitevault.service (or, with timers: \
        systemctl enable --now sitevault-backup@SITE.timer for SITE-DIR/SITE.toml).
        """
    )
    @Option(name: .long, help: "A site's control file for sitevault.service (repeat for several).") var site: [String] = []
    @Option(name: .long, help: "Folder of the control files the timer units use (SITE.toml).") var siteDir = "/etc/sitevault/sites"
    @Option(name: .long, help: "Where to write the units.") var dest = "/etc/systemd/system"
    @Flag(name: .long, help: "Do not run systemctl daemon-reload.") var noReload = false
    @Flag(name: .long, help: "Print machine-readable JSON.") var json = false

    func run() async throws {
        let out = Output(json: json, quiet: false)
        var sites: [String] = []
        for s in site {
            let c: SiteConfig
            do { c = try ControlFile.load(path: s) } catch let e as ControlFileError {
                out.warn(e)
                throw ExitCodeError(SiteExit.controlFile)
            }
            sites.append(c.file)
        }
        let binary = FilePath(CommandLine.arguments[0].contains("/") ? CommandLine.arguments[0] : (Executable.find("sitevault") ?? "/usr/local/bin/sitevault")).absolute().description
        try await runReporting(out) {
            if mkdir(dest, 0o755) != 0 && errno != EEXIST { throw VaultError.posix("cannot create", path: dest, errno: errno) }
            var written: [String] = []
            for (name, template) in SystemdUnits.files {
                let text = template.replacingOccurrences(of: "@SITEVAULT@", with: binary)
                    .replacingOccurrences(of: "@SITES@", with: sites.map { "--site \($0)" }.joined(separator: " "))
                    .replacingOccurrences(of: "@SITEDIR@", with: siteDir)
                let path = dest + "/" + name
                let tmp = path + ".tmp"
                guard FileManager.default.createFile(atPath: tmp, contents: Data(text.utf8), attributes: [.posixPermissions: 0o644]),
                      rename(tmp, path) == 0 else { throw VaultError.posix("cannot write", path: path, errno: errno) }
                written.append(path)
            }
            var reloaded = false
            if !noReload && access("/run/systemd/system", F_OK) == 0 {
                // Through SiteSystem's runner like every child: SITEVAULT_PASSWORD is not passed on.
                reloaded = (try? ProcessRunner().run(Command(["/bin/systemctl", "daemon-reload"], timeout: 120)))?.succeeded ?? false
            }
            struct Result: Encodable { var units: [String]; var binary: String; var sites: [String]; var reloaded: Bool }
            out.emit(Result(units: written, binary: binary, sites: sites, reloaded: reloaded))
            for w in written { out.line("wrote \(w)") }
            if sites.isEmpty { out.line("note: sitevault.service has no --site yet: give --site FILE, or use the timer units") }
            out.line("next: \(reloaded ? "" : "systemctl daemon-reload && ")systemctl enable --now sitevault.service   (or sitevault-backup@SITE.timer)")
            return 0
        }
    }
}
