import ArgumentParser
import Foundation
import SiteBackup
import VaultCore

struct SiteForgetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forget",
        abstract: "Apply the control file's [retention] policy to the site's snapshots (and prune with --prune).",
        discussion: """
        All of the site's snapshots in a repository form one group; the newest snapshot and the newest \
        good (not partial) one are always kept. --prune then removes the data no snapshot references, \
        under an exclusive lock (it waits --retry-lock seconds for a running backup, else exits 11).
        """
    )
    @OptionGroup var options: SiteOptions
    @Flag(name: .long, help: "Show what would be removed; change nothing.") var dryRun = false
    @Flag(name: .long, help: "Also remove unreferenced data and report the space reclaimed.") var prune = false
    @Option(name: .long, help: "Seconds to wait for a lock held by a running backup (default 0).") var retryLock: Double = 0

    func run() async throws {
        let config = try options.load(refusing: "nothing was forgotten")
        let out = options.output
        try await runReporting(out) {
            let (host, user) = hostAndUser()
            var opts = SiteRunOptions(hostname: host, username: user)
            opts.retryLock = retryLock
            opts.storeOptions = storeOptions(ProcessInfo.processInfo.environment)
            let r = try SiteRetention.apply(config, options: opts, dryRun: dryRun, prune: prune)
            out.emit(r)
            let utc = config.timeZone == .utc
            for d in r.decisions {
                out.line("\(d.keep ? "keep  " : "remove") \(d.repository.padding(toLength: 8, withPad: " ", startingAt: 0)) \(d.id.prefix(12))  \(TimeText.full(d.time, utc: utc))  \(d.reasons.joined(separator: ","))")
            }
            out.line("\(dryRun ? "would remove" : "removed") \(r.removed) snapshot(s), kept \(r.decisions.count - r.removed)")
            if prune { out.line("\(dryRun ? "would reclaim" : "reclaimed") \(Bytes.text(r.bytesReclaimed))") }
            return Exit.success
        }
    }
}
