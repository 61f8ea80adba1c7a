import Foundation
import SiteSystem
import VaultCore

/// Failure (and optionally success) alerts: a command, fed the alert as JSON on stdin and in its
/// environment; a POST to a webhook (sitevault's JSON, or a chat tool's `{"text": …}`); and e-mail
/// through the local sendmail interface. Each channel is tried; each delivery or failure is recorded
/// (1500 or 2070) naming the channel. Delivery never throws: an alert must not change a run's result.
public enum Alerts {
    /// The webhook and command body (docs/control-file.md, `[alerts]`).
    struct Body: Codable {
        var site: String
        var host: String
        var run_id: String
        var result: String
        var failure: String?
        var message_id: Int
        var severity: String
        var time: String
        var text: String
        var snapshot: String?
        var components: [[String: String]]
        var hook: String?
        /// The run's copies to [[copy]] targets (absent when it has none).
        var copies: [[String: String]]? = nil
    }

    /// What one channel did with an alert.
    public struct ChannelResult: Sendable {
        /// `command`, `webhook` or `email`.
        public var channel: String
        public var delivered: Bool
        public var detail: String

        init(_ channel: String, _ delivered: Bool, _ detail: String) {
            self.channel = channel; self.delivered = delivered; self.detail = detail
        }
    }

    static func body(_ report: RunReport, _ m: StatusMessage) -> Body {
        Body(site: report.site, host: report.hostname, run_id: report.runID, result: report.result,
             failure: report.failure?.rawValue, message_id: m.id, severity: m.severity.rawValue, time: m.time.iso8601,
             text: m.text, snapshot: report.snapshot,
             components: report.components.map { ["name": $0.name, "result": $0.result, "message": $0.message ?? ""] },
             hook: report.hook,
             copies: report.copies?.map { ["target": $0.target, "result": $0.result, "message": $0.message ?? ""] })
    }

    static func shouldAlert(_ report: RunReport, config: AlertConfig) -> Bool {
        if report.result != "succeeded" { return true }
        if report.hook == "failed" || report.hook == "refused" { return true }
        if report.copies?.contains(where: { $0.result != "ok" }) == true { return true }
        return config.onSuccess
    }

    public static func send(config: SiteConfig, report: RunReport, message: StatusMessage, recorder: RunRecorder) {
        guard shouldAlert(report, config: config.alerts) else { return }
        deliver(config, body: body(report, message), time: message.time, recorder: recorder)
    }

    /// A failed drill alerts like a failed backup (result "drill-failed"); a passed one only with on_success.
    public static func send(config: SiteConfig, drill: DrillReport, message: StatusMessage, recorder: RunRecorder) {
        guard drill.result != "passed" || config.alerts.onSuccess else { return }
        let b = Body(site: drill.site, host: drill.hostname, run_id: drill.runID, result: "drill-\(drill.result)",
                     failure: drill.failure, message_id: message.id, severity: message.severity.rawValue,
                     time: message.time.iso8601, text: message.text, snapshot: drill.snapshot,
                     components: drill.steps.map {
                         ["name": $0.component ?? "", "step": $0.name, "result": $0.result, "message": $0.detail]
                     },
                     hook: nil)
        deliver(config, body: b, time: message.time, recorder: recorder)
    }

    /// `sitevault alert test`: a notification with result "test" through every configured channel;
    /// nothing else happens. Returns each channel's result (empty when no channel is configured).
    public static func test(config: SiteConfig, hostname: String, recorder: RunRecorder) -> [ChannelResult] {
        let m = recorder.emit(.alertTest, "test notification of site \(config.site) requested (sitevault alert test)")
        let b = Body(site: config.site, host: hostname, run_id: recorder.runID, result: "test", failure: nil,
                     message_id: m.id, severity: m.severity.rawValue, time: m.time.iso8601, text: m.text,
                     snapshot: nil, components: [], hook: nil)
        return deliver(config, body: b, time: m.time, recorder: recorder)
    }

    /// Tries every configured channel (command, webhook, e-mail) and records each result.
    @discardableResult
    static func deliver(_ config: SiteConfig, body b: Body, time: Timestamp, recorder: RunRecorder) -> [ChannelResult] {
        let a = config.alerts
        guard a.isConfigured else { return [] }
        let json = Array((try? JSONEncoder.sorted.encode(b)) ?? Data())
        var results: [ChannelResult] = []
        if let argv = a.command { results.append(viaCommand(argv, body: b, json: json, timeout: a.timeout)) }
        if let url = a.webhook {
            results.append(viaWebhook(url, payload: a.webhookFormat == .slack ? chatBody(b) : json, timeout: a.timeout))
        }
        if !a.email.isEmpty {
            let mail = AlertMail.make(config: config, body: b, time: time, messages: recorder.messages)
            results.append(viaEmail(mail, sendmail: a.sendmail, result: b.result, timeout: a.timeout))
        }
        for r in results { recorder.emit(r.delivered ? .alertSent : .alertFailed, r.detail) }
        return results
    }

    static func viaCommand(_ argv: [String], body b: Body, json: [UInt8], timeout: Double) -> ChannelResult {
        let env = ["SITEVAULT_SITE": b.site, "SITEVAULT_RESULT": b.result, "SITEVAULT_MESSAGE_ID": "\(b.message_id)",
                   "SITEVAULT_MESSAGE": TerminalText.escape(b.text), "SITEVAULT_RUN_ID": b.run_id]
        do {
            let r = try ProcessRunner().run(Command(argv, extraEnvironment: env, timeout: timeout), stdin: json)
            if r.succeeded { return ChannelResult("command", true, "alert command \(argv[0]) notified (\(b.result))") }
            return ChannelResult("command", false, "alert command \(argv.joined(separator: " ")) \(r.summary)")
        } catch {
            return ChannelResult("command", false, "alert command \(argv[0]) could not run: \(describe(error))")
        }
    }

    static func viaWebhook(_ url: String, payload: [UInt8], timeout: Double) -> ChannelResult {
        let shown = redactURL(url)
        do {
            let r = try HTTPPost.postJSON(url: url, body: payload, timeout: timeout)
            if (200..<300).contains(r.status) {
                return ChannelResult("webhook", true, "webhook \(shown) answered \(r.status)")
            }
            return ChannelResult("webhook", false, "webhook \(shown) answered \(r.status): \(r.body.prefix(200))")
        } catch {
            return ChannelResult("webhook", false, "webhook \(shown): \(describe(error))")
        }
    }

    /// Pipes the message to `sendmail -t -oi`: recipients come from its To header, never from argv.
    static func viaEmail(_ mail: AlertMail, sendmail: String, result: String, timeout: Double) -> ChannelResult {
        let to = mail.to.joined(separator: ", ")
        do {
            let r = try ProcessRunner().run(Command([sendmail, "-t", "-oi"], timeout: timeout), stdin: Array(mail.text.utf8))
            if r.succeeded {
                return ChannelResult("email", true, "e-mail to \(to) handed to \(sendmail) (\(result))")
            }
            return ChannelResult("email", false, "e-mail to \(to): \(sendmail) \(r.summary); check the "
                                 + "local mail setup (sendmail = path in [alerts], its configuration and mail log)")
        } catch {
            return ChannelResult("email", false, "e-mail to \(to): \(sendmail) could not run: "
                                 + "\(describe(error)); install an MTA (e.g. apt install postfix, or msmtp-mta to relay) "
                                 + "or set sendmail = \"/path\" in [alerts]")
        }
    }

    static func describe(_ error: Error) -> String { (error as? VaultError)?.message ?? "\(error)" }

    /// The body chat tools' incoming webhooks accept (Slack, Mattermost, Rocket.Chat): `{"text": …}`,
    /// with `&`, `<` and `>` escaped as Slack asks.
    static func chatBody(_ b: Body) -> [UInt8] {
        var lines = ["sitevault: site \(b.site) on \(b.host): \(b.result)", b.text, "run \(b.run_id)"]
        if let s = b.snapshot { lines[2] += ", snapshot \(s)" }
        let text = lines.joined(separator: "\n").replacingOccurrences(of: "&", with: "&amp;")
            .replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        return Array((try? JSONEncoder.sorted.encode(["text": text])) ?? Data())
    }

    /// A URL without user, password or query (they may carry secrets).
    static func redactURL(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return url }
        var rest = String(url[schemeEnd.upperBound...])
        if let at = rest.firstIndex(of: "@"), rest[..<at].firstIndex(of: "/") == nil { rest = String(rest[rest.index(after: at)...]) }
        if let q = rest.firstIndex(of: "?") { rest = String(rest[..<q]) + "?…" }
        return String(url[..<schemeEnd.upperBound]) + rest
    }
}
