import Foundation
import SiteBackup
import VaultCore

/// The site page's chart, drawn as SVG on the server: one panel each for run duration, bytes
/// added and freeze window of the last runs (oldest left), and the drills' recovery time.
struct TimelineChart {
    struct Bar { var value: Double; var label: String; var cssClass: String }

    let runs: [RunReport]      // oldest first
    let drills: [DrillReport]  // oldest first
    let utc: Bool
    let width = 720.0, panelHeight = 90.0, gap = 34.0, left = 70.0

    func svg() -> String {
        let panels: [(String, [Bar], (Double) -> String)] = [
            ("Duration", runs.map { Bar(value: $0.durationSeconds, label: label($0, HTML.seconds($0.durationSeconds)), cssClass: $0.result) },
             { HTML.seconds($0) }),
            ("Bytes added", runs.map { r in
                let added = r.components.reduce(UInt64(0)) { $0 + $1.bytesAdded }
                return Bar(value: Double(added), label: label(r, HTML.bytes(added)), cssClass: r.result)
            }, { HTML.bytes(UInt64(max(0, $0))) }),
            ("Freeze window", runs.map { Bar(value: $0.freezeWindowSeconds, label: label($0, HTML.seconds($0.freezeWindowSeconds)), cssClass: $0.result) },
             { HTML.seconds($0) }),
            ("Drill recovery", drills.map { d in
                Bar(value: d.recoverySeconds ?? 0, label: "drill \(TimeText.full(d.started, utc: utc)) \(d.result): recovery \(HTML.seconds(d.recoverySeconds))",
                    cssClass: d.result == "passed" ? "succeeded" : d.result)
            }, { HTML.seconds($0) }),
        ]
        let height = Double(panels.count) * (panelHeight + gap) + 10
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"\(Int(width))\" height=\"\(Int(height))\""
        out += " role=\"img\" aria-label=\"Timeline of the last \(runs.count) runs\" id=\"timeline\">"
        out += "<style>text{font:11px sans-serif;fill:#57606a}.t{font-weight:600;fill:#1f2328}.succeeded{fill:#1a7f37}.partial{fill:#9a6700}"
        out += ".failed,.aborted{fill:#cf222e}.running{fill:#0969da}.axis{stroke:#d0d7de}</style>"
        for (i, p) in panels.enumerated() {
            out += panel(title: p.0, bars: p.1, format: p.2, top: 10 + Double(i) * (panelHeight + gap))
        }
        return out + "</svg>"
    }

    func label(_ r: RunReport, _ value: String) -> String {
        "\(TimeText.full(r.started, utc: utc)) \(r.result): \(value)"
    }

    func panel(title: String, bars: [Bar], format: (Double) -> String, top: Double) -> String {
        var out = "<text class=\"t\" x=\"0\" y=\"\(f(top + 10))\">\(HTML.escape(title))</text>"
        let base = top + panelHeight
        out += "<line class=\"axis\" x1=\"\(f(left))\" y1=\"\(f(base))\" x2=\"\(f(width))\" y2=\"\(f(base))\"/>"
        guard !bars.isEmpty else { return out + "<text x=\"\(f(left + 8))\" y=\"\(f(base - 8))\">none yet</text>" }
        let maxValue = max(bars.map(\.value).max() ?? 0, 1e-9)
        out += "<text x=\"0\" y=\"\(f(top + 26))\">\(HTML.escape(format(maxValue)))</text>"
        let slot = (width - left) / Double(max(bars.count, 10))
        for (i, b) in bars.enumerated() {
            let h = max(1, (b.value / maxValue) * (panelHeight - 14))
            out += "<rect class=\"\(HTML.escape(b.cssClass))\" x=\"\(f(left + Double(i) * slot + 1))\" y=\"\(f(base - h))\" "
            out += "width=\"\(f(max(1, slot - 2)))\" height=\"\(f(h))\"><title>\(HTML.escape(b.label))</title></rect>"
        }
        return out
    }

    func f(_ v: Double) -> String { String(format: "%.1f", v) }
}
