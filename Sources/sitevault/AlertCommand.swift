import ArgumentParser
import Foundation
import SiteBackup
import VaultCore

/// `sitevault alert …`: the site's notification channels.
struct AlertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alert",
        abstract: "Check the notification channels of a site's [alerts].",
        subcommands: [AlertTestCommand.self]
    )
}

/// `sitevault alert test --site FILE`: one test notification through every configured channel.
struct AlertTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Send a test notification (result \"test\") through every channel of [alerts] and print each result.",
        discussion: """
        Channels: command, webhook, email. Nothing else happens: no backup, no status change except \
        the status messages 1501, then 1500 or 2070 per channel. Exit code: 0 every channel delivered, \
        1 a channel failed or none is configured, 78 the control file was refused.
        """
    )
    @OptionGroup var options: SiteOptions

    /// The `--json` answer.
    struct Report: Encodable {
        struct Channel: Encodable { var channel: String, delivered: Bool, detail: String }
        var site: String
        var run_id: String?
        var ok: Bool
        var channels: [Channel]
    }

    func run() async throws {
        let config = try options.load()
        let out = options.output
        guard config.alerts.isConfigured else {
            out.emit(Report(site: config.site, run_id: nil, ok: false, channels: []))
            out.warn("error: \(config.file) has no alert channel: set command, webhook or email in [alerts]")
            throw ExitCodeError(1)
        }
        let store: StatusStore?
        do { store = try StatusStore(stateDir: config.stateDir) } catch let e as VaultError {
            out.warn("warning: cannot record status messages in \(config.stateDir): \(e.message)")
            store = nil
        }
        let runID = "alert-test-" + Hex.encode((0..<4).map { _ in UInt8.random(in: 0...255) })
        let recorder = RunRecorder(site: config.site, runID: runID, store: store, clock: SystemClock(),
                                   echo: MessageEcho(enabled: false), utc: config.timeZone == .utc)
        let results = Alerts.test(config: config, hostname: hostAndUser().0, recorder: recorder)
        let ok = results.allSatisfy(\.delivered)
        out.emit(Report(site: config.site, run_id: runID, ok: ok,
                        channels: results.map { .init(channel: $0.channel, delivered: $0.delivered, detail: $0.detail) }))
        for r in results {
            out.line("\(r.channel.padding(toLength: 8, withPad: " ", startingAt: 0)) \(r.delivered ? "ok    " : "FAILED") "
                     + TerminalText.escape(r.detail))
        }
        if !ok { throw ExitCodeError(1) }
    }
}
