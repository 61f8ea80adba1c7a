import Foundation
import Hummingbird
import SiteBackup
import SiteService
import VaultCore

/// `GET /`: one row per site, reloading itself while something runs.
extension Console {
    func dashboard(_ s: Session) -> Response {
        let views = views()
        let busy = views.contains { $0.service.running != nil || !$0.service.queued.isEmpty }
        let anyCopies = views.contains { !$0.config.copies.isEmpty }
        var b = "<h1>Sites</h1>"
        let counts = Dictionary(grouping: views, by: \.state).map { "\($0.value.count) \($0.key.rawValue)" }.sorted()
        b += "<p class=\"mute\">\(views.count) site\(views.count == 1 ? "" : "s"): \(HTML.escape(counts.joined(separator: ", ")))"
        b += busy ? " · this page reloads every \(settings.refreshSeconds) s while a run is in progress" : ""
        b += "</p><table class=\"sites\"><thead><tr><th>Site</th><th>State</th><th>Last run</th><th>Newest good snapshot</th>"
        b += "<th>Next run</th><th>Staleness alarm</th><th>Last drill</th>\(anyCopies ? "<th>Copies</th>" : "")</tr></thead><tbody>"
        for v in views { b += row(v, copies: anyCopies) }
        b += "</tbody></table>"
        return Console.html(HTML.page(title: "Sites", user: s.user, csrf: s.csrf, refresh: busy ? settings.refreshSeconds : nil, body: b))
    }

    func row(_ v: SiteView, copies: Bool) -> String {
        let url = "/sites/" + HTML.urlComponent(v.name)
        var r = "<tr id=\"site-\(HTML.escape(v.name))\" data-state=\"\(HTML.escape(v.state.rawValue))\">"
        r += "<td data-label=\"Site\"><a href=\"\(url)\"><strong>\(HTML.escape(v.name))</strong></a></td>"
        r += "<td data-label=\"State\">\(HTML.badge(v.state))\(stateDetail(v))</td>"
        guard let st = v.status else {
            r += "<td colspan=\"\(copies ? 6 : 5)\" class=\"error\">\(HTML.escape(v.error ?? ""))</td></tr>"
            return r
        }
        if let last = st.lastRun {
            let t = v.times(last.started)
            r += "<td data-label=\"Last run\">\(HTML.escape(last.result)) · \(HTML.seconds(last.durationSeconds))<br><small>\(HTML.escape(t.local))</small></td>"
        } else { r += "<td data-label=\"Last run\" class=\"mute\">never</td>" }
        let window = DurationText.format(st.retentionWindowSeconds)
        if let age = st.ageSeconds {
            r += "<td data-label=\"Newest good snapshot\"\(st.stale ? " class=\"alarm\"" : "")>\(TimeText.age(age)) old"
            r += "<br><small>retention window \(HTML.escape(window))</small></td>"
        } else { r += "<td data-label=\"Newest good snapshot\" class=\"alarm\">none<br><small>retention window \(HTML.escape(window))</small></td>" }
        if let next = v.service.nextRun {
            let t = v.times(next)
            r += "<td data-label=\"Next run\">\(HTML.escape(t.local))<br><small>\(HTML.escape(t.utc))</small></td>"
        } else { r += "<td data-label=\"Next run\" class=\"mute\">no schedule</td>" }
        if st.alarm {
            r += "<td data-label=\"Staleness alarm\" class=\"alarm\">ALARM\(v.acknowledged ? " <small>(acknowledged)</small>" : "")</td>"
        } else { r += "<td data-label=\"Staleness alarm\">none</td>" }
        if let d = st.lastDrill {
            r += "<td data-label=\"Last drill\">\(HTML.escape(d.result))"
            if let rs = d.recoverySeconds { r += " · recovery \(HTML.seconds(rs))" }
            r += "<br><small>\(HTML.escape(v.times(d.time).local))</small></td>"
        } else { r += "<td data-label=\"Last drill\" class=\"mute\">none</td>" }
        if copies {
            let targets = v.config.copies.map { t -> String in
                let o = st.lastRun?.copies?.first { $0.target == t.repository }
                return HTML.escape(t.repository) + (o.map { ": " + HTML.escape($0.result) } ?? "")
            }
            r += "<td data-label=\"Copies\">\(targets.isEmpty ? "<span class=\"mute\">none</span>" : targets.joined(separator: "<br>"))</td>"
        }
        return r + "</tr>"
    }

    /// What runs or waits, and the first reason the site is not healthy.
    func stateDetail(_ v: SiteView) -> String {
        var parts: [String] = []
        if let w = v.service.running {
            parts.append("\(w.kind.rawValue) since \(TimeText.age(max(0, settings.clock.now().seconds - w.started.seconds)))")
        }
        if !v.service.queued.isEmpty { parts.append("queued: " + v.service.queued.map(\.kind.rawValue).joined(separator: ", ")) }
        if let reason = v.status?.reasons.first, v.state != .healthy { parts.append(reason) }
        return parts.isEmpty ? "" : "<br><small>" + parts.map(HTML.escape).joined(separator: "<br>") + "</small>"
    }
}
