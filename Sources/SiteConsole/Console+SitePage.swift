import Foundation
import Hummingbird
import SiteBackup
import SiteService
import VaultCore

/// `GET /sites/NAME`: state and actions, the timeline chart, the runs with their logs, the
/// snapshots with their components, the drills, and the status messages with filters.
extension Console {
    static let chartRuns = 40

    func sitePage(_ s: Session, site: String, query: String) -> Response {
        guard let v = view(site) else { return errorPage(s, .notFound, "There is no site \(site) in this service.") }
        let store = v.service.store
        let utc = v.config.timeZone == .utc
        let runs = (try? store.runs(limit: Console.chartRuns)) ?? []
        let drills = (try? store.drills(limit: 20)) ?? []
        let busy = v.service.running != nil || !v.service.queued.isEmpty
        let url = "/sites/" + HTML.urlComponent(site)
        var b = "<p><a href=\"/\">← all sites</a></p><h1>\(HTML.escape(site)) \(HTML.badge(v.state))</h1>"
        let q = FormData(query)
        if let done = q["done"], let a = ConsoleAction(rawValue: done) {
            b += "<p class=\"card\" id=\"notice\">\(HTML.escape(a == .acknowledge ? "Alarm acknowledged." : "\(a.rawValue.capitalized) queued: it runs next."))</p>"
        }
        b += summary(v)
        if s.user.role == .admin {
            b += "<div class=\"actions\">"
            var actions: [ConsoleAction] = [.backup, .drill]
            if !(v.status?.frozenWriters.isEmpty ?? true) { actions.append(.thaw) }
            if v.status?.alarm == true && !v.acknowledged { actions.append(.acknowledge) }
            for a in actions {
                b += "<form method=\"get\" action=\"\(url)/confirm/\(a.rawValue)\"><button type=\"submit\" id=\"action-\(a.rawValue)\">\(HTML.escape(a.title))</button></form>"
            }
            b += "</div>"
        }
        b += "<h2>Last runs</h2>"
        b += TimelineChart(runs: runs.reversed(), drills: drills.reversed(), utc: utc).svg()
        b += runsTable(runs.prefix(20), site: site, v: v)
        b += snapshotsTable(runs.filter { $0.snapshot != nil }.prefix(10), v: v)
        b += drillsTable(drills.prefix(10), v: v)
        b += messagesSection(v, query: q, url: url)
        return Console.html(HTML.page(title: site, user: s.user, csrf: s.csrf, refresh: busy ? settings.refreshSeconds : nil, body: b))
    }

    func summary(_ v: SiteView) -> String {
        guard let st = v.status else { return "<p class=\"error\">\(HTML.escape(v.error ?? ""))</p>" }
        var b = "<div class=\"card\">"
        if let w = v.service.running { b += "<p><strong>\(HTML.escape(w.kind.rawValue)) running</strong> since \(HTML.escape(v.times(w.started).local))</p>" }
        for q in v.service.queued { b += "<p>\(HTML.escape(q.kind.rawValue)) queued by \(HTML.escape(q.by))</p>" }
        if !st.reasons.isEmpty { b += "<ul>" + st.reasons.map { "<li>\(HTML.escape($0))</li>" }.joined() + "</ul>" }
        b += "<p>Control file <code>\(HTML.escape(v.service.file))</code> · time zone \(HTML.escape(st.timeZone))"
        if let sched = st.schedule { b += " · schedule “\(HTML.escape(sched))”" }
        if let n = v.service.nextRun { b += " · next run \(HTML.escape(v.times(n).local)) (\(HTML.escape(v.times(n).utc)))" }
        if let n = v.service.nextDrill { b += " · next drill \(HTML.escape(v.times(n).local)) (\(HTML.escape(v.times(n).utc)))" }
        b += "</p>"
        if !st.frozenWriters.isEmpty { b += "<p class=\"alarm\">Left frozen: \(HTML.escape(st.frozenWriters.joined(separator: ", ")))</p>" }
        return b + "</div>"
    }

    func runsTable(_ runs: ArraySlice<RunReport>, site: String, v: SiteView) -> String {
        var b = "<table><thead><tr><th>Started</th><th>Result</th><th>Duration</th><th>Read</th><th>Added</th><th>Freeze window</th><th>Log</th></tr></thead><tbody>"
        for r in runs {
            let read = r.components.reduce(UInt64(0)) { $0 + $1.bytes }, added = r.components.reduce(UInt64(0)) { $0 + $1.bytesAdded }
            b += "<tr><td>\(HTML.escape(v.times(r.started).local))</td><td>\(HTML.escape(r.result))"
            if let m = r.failureMessage { b += "<br><small>\(HTML.escape(m))</small>" }
            b += "</td><td>\(HTML.seconds(r.durationSeconds))</td><td>\(HTML.bytes(read))</td><td>\(HTML.bytes(added))</td>"
            b += "<td>\(HTML.seconds(r.freezeWindowSeconds))</td>"
            b += "<td><a href=\"/sites/\(HTML.urlComponent(site))/runs/\(HTML.urlComponent(r.runID))\">\(HTML.escape(r.runID))</a></td></tr>"
        }
        if runs.isEmpty { b += "<tr><td colspan=\"7\" class=\"mute\">no runs yet</td></tr>" }
        return b + "</tbody></table>"
    }

    func snapshotsTable(_ runs: ArraySlice<RunReport>, v: SiteView) -> String {
        var b = "<h2>Snapshots</h2><p class=\"mute\">Committed by the runs recorded in the status store (retention may have removed older ones since).</p>"
        b += "<table><thead><tr><th>Snapshot</th><th>Component</th><th>Result</th><th>Size</th><th>Version</th><th>Integrity</th></tr></thead><tbody>"
        for r in runs {
            let head = "<td rowspan=\"\(max(1, r.components.count))\"><code>\(HTML.escape(String((r.snapshot ?? "").prefix(12))))</code><br>"
                + "<small>\(HTML.escape(v.times(r.snapshotTime ?? r.started).local))</small></td>"
            if r.components.isEmpty { b += "<tr>\(head)<td colspan=\"5\" class=\"mute\">no components</td></tr>"; continue }
            for (i, c) in r.components.enumerated() {
                b += "<tr>\(i == 0 ? head : "")<td>\(HTML.escape(c.name)) <small>\(HTML.escape(c.kind.rawValue))</small></td>"
                b += "<td>\(HTML.escape(c.result))</td><td>\(HTML.bytes(c.bytes))</td><td>\(HTML.escape(c.version ?? "–"))</td>"
                b += "<td>\(HTML.escape(c.check ?? "–"))</td></tr>"
            }
        }
        if runs.isEmpty { b += "<tr><td colspan=\"6\" class=\"mute\">none</td></tr>" }
        return b + "</tbody></table>"
    }

    func drillsTable(_ drills: ArraySlice<DrillReport>, v: SiteView) -> String {
        var b = "<h2>Recovery drills</h2><table><thead><tr><th>Started</th><th>Result</th><th>Snapshot</th><th>Recovery time</th>"
        b += "<th>Backup time</th><th>Total</th></tr></thead><tbody>"
        for d in drills {
            b += "<tr><td>\(HTML.escape(v.times(d.started).local))</td><td>\(HTML.escape(d.result))"
            if let f = d.failure { b += "<br><small>\(HTML.escape(f))</small>" }
            b += "</td><td><code>\(HTML.escape(String((d.snapshot ?? "–").prefix(12))))</code></td><td>\(HTML.seconds(d.recoverySeconds))</td>"
            b += "<td>\(HTML.seconds(d.backupSeconds))</td><td>\(HTML.seconds(d.totalSeconds))</td></tr>"
        }
        if drills.isEmpty { b += "<tr><td colspan=\"6\" class=\"mute\">no drill yet</td></tr>" }
        return b + "</tbody></table>"
    }

    func messagesSection(_ v: SiteView, query q: FormData, url: String) -> String {
        let sev = q["severity"].flatMap { $0.isEmpty ? nil : Severity(rawValue: $0) }
        let comp = q["component"].flatMap { $0.isEmpty ? nil : $0 }
        let id = q["id"].flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        // "warning" shows warnings and errors: a severity filter is a floor, as in journalctl -p.
        let filter = MessageFilter(severities: sev.map { s in [Severity.info, .warning, .error].filter { $0 >= s } }, component: comp,
                                   ids: id.map { [$0] }, limit: 200)
        let msgs = (try? v.service.store.messages(matching: filter)) ?? []
        let comps = (try? v.service.store.messageComponents()) ?? []
        var b = "<h2>Status messages</h2><form method=\"get\" action=\"\(url)\" class=\"card\" id=\"filters\">"
        b += "<label>Severity <select name=\"severity\"><option value=\"\">any</option>"
        for s in [Severity.info, .warning, .error] {
            b += "<option value=\"\(s.rawValue)\"\(sev == s ? " selected" : "")>\(s.rawValue)\(s == .info ? "" : " and worse")</option>"
        }
        b += "</select></label> <label>Component <select name=\"component\"><option value=\"\">any</option>"
        for c in comps { b += "<option value=\"\(HTML.escape(c))\"\(comp == c ? " selected" : "")>\(HTML.escape(c))</option>" }
        b += "</select></label> <label>Message ID <input type=\"text\" name=\"id\" size=\"5\" value=\"\(id.map(String.init) ?? "")\"></label> "
        b += "<button type=\"submit\">Filter</button></form>"
        b += "<table id=\"messages\"><thead><tr><th>Time</th><th>ID</th><th>Severity</th><th>Component</th><th>Message</th></tr></thead><tbody>"
        for m in msgs {
            b += "<tr class=\"sev-\(m.severity.rawValue)\"><td><small>\(HTML.escape(v.times(m.time).local))</small></td><td>\(m.id)</td>"
            b += "<td>\(m.severity.rawValue)</td><td>\(HTML.escape(m.component ?? ""))</td><td>\(HTML.escape(m.text))</td></tr>"
        }
        if msgs.isEmpty { b += "<tr><td colspan=\"5\" class=\"mute\">no message matches</td></tr>" }
        return b + "</tbody></table>"
    }

    /// `GET /sites/NAME/runs/RUN`: the run's report and its log (its status messages, as the run log has them).
    func runPage(_ s: Session, site: String, run: String) -> Response {
        guard let v = view(site) else { return errorPage(s, .notFound, "There is no site \(site) in this service.") }
        let report = try? v.service.store.run(id: run)
        let msgs = ((try? v.service.store.messages(matching: MessageFilter(runID: run, limit: 5000))) ?? []).reversed()
        guard report != nil || !msgs.isEmpty else { return errorPage(s, .notFound, "There is no run \(run) of \(site).") }
        var b = "<p><a href=\"/sites/\(HTML.urlComponent(site))\">← \(HTML.escape(site))</a></p><h1>Run \(HTML.escape(run))</h1>"
        if let r = report {
            b += "<div class=\"card\"><p>\(HTML.escape(r.result)) · started \(HTML.escape(v.times(r.started).local)) · \(HTML.seconds(r.durationSeconds))"
            b += " · host \(HTML.escape(r.hostname))\(r.snapshot.map { " · snapshot <code>\(HTML.escape($0))</code>" } ?? "")</p>"
            if let m = r.failureMessage { b += "<p class=\"error\">\(HTML.escape(m))</p>" }
            for w in r.warnings { b += "<p class=\"sev-warning\">\(HTML.escape(w))</p>" }
            b += "</div>"
        }
        var log = ""
        for m in msgs {
            log += "\(v.times(m.time).local)  \(m.id)  \(m.severity.rawValue.uppercased())\(m.component.map { " [\($0)]" } ?? "")  \(m.text)\n"
        }
        b += "<h2>Log</h2><pre id=\"log\">\(HTML.escape(log))</pre>"
        return Console.html(HTML.page(title: "Run \(run)", user: s.user, csrf: s.csrf, body: b))
    }

    func chart(site: String) -> Response {
        guard let v = view(site) else { return Console.text("no such site\n", status: .notFound) }
        let runs = (try? v.service.store.runs(limit: Console.chartRuns)) ?? []
        let drills = (try? v.service.store.drills(limit: 20)) ?? []
        return Console.text(TimelineChart(runs: runs.reversed(), drills: drills.reversed(), utc: v.config.timeZone == .utc).svg(),
                            type: "image/svg+xml")
    }
}
