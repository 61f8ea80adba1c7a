import Foundation
import SiteBackup
import VaultCore

/// HTML text: everything that comes from outside (site names, messages, file names) goes through
/// `escape` before it reaches a page.
enum HTML {
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                // Control characters (terminal escapes in command output) are shown, not passed on.
                if c.value < 0x20 && c != "\n" && c != "\t" || c.value == 0x7f { out += "\\x" + String(c.value, radix: 16) } else {
                    out.unicodeScalars.append(c)
                }
            }
        }
        return out
    }

    /// A query-string or path component, percent-encoded.
    static func urlComponent(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                out += "%" + (b < 16 ? "0" : "") + String(b, radix: 16, uppercase: true)
            }
        }
        return out
    }

    /// A whole page: the shared style sheet inline (no outside asset), a header with the user and
    /// the log-out button, and `body`. `refresh` (seconds) makes the browser reload the page.
    static func page(title: String, user: ConsoleUser?, csrf: String?, refresh: Int? = nil, body: String) -> String {
        var head = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        head += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        if let refresh { head += "<meta http-equiv=\"refresh\" content=\"\(refresh)\">" }
        head += "<title>\(escape(title)) · sitevault</title><style>\(style)</style></head><body>"
        var nav = "<header><a class=\"brand\" href=\"/\">sitevault</a>"
        if let user, let csrf {
            nav += "<span class=\"who\">\(escape(user.name))\(user.role == .readOnly ? " (read-only)" : "")</span>"
            nav += "<form method=\"post\" action=\"/logout\" class=\"inline\">\(csrfField(csrf))<button>Log out</button></form>"
        }
        nav += "</header>"
        return head + nav + "<main>" + body + "</main></body></html>"
    }

    static func csrfField(_ token: String) -> String {
        "<input type=\"hidden\" name=\"csrf\" value=\"\(escape(token))\">"
    }

    /// A state word with its colour (the word carries the meaning, the colour only helps).
    static func badge(_ state: SiteState) -> String {
        "<span class=\"badge \(state.rawValue.replacingOccurrences(of: " ", with: "-"))\">\(escape(state.rawValue))</span>"
    }

    static func bytes(_ n: UInt64) -> String { Bytes.text(n) }

    static func seconds(_ s: Double?) -> String {
        guard let s else { return "–" }
        if s < 10 { return String(format: "%.2f s", s) }
        return TimeText.age(s)
    }

    static let style = """
    :root{--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--run:#0969da;--mute:#57606a;--line:#d0d7de}
    *{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2328;background:#f6f8fa}
    header{display:flex;gap:1em;align-items:center;padding:.6em 1em;background:#24292f;color:#fff;flex-wrap:wrap}
    header a{color:#fff;text-decoration:none}.brand{font-weight:700;margin-right:auto}.who{opacity:.8}
    main{padding:1em;max-width:1200px;margin:auto}h1{font-size:1.4em;margin:.2em 0 .6em}h2{font-size:1.15em;margin:1.4em 0 .5em}
    table{border-collapse:collapse;width:100%;background:#fff;border:1px solid var(--line)}
    th,td{text-align:left;padding:.45em .6em;border-bottom:1px solid var(--line);vertical-align:top}
    th{background:#eaeef2;font-weight:600;font-size:.9em}td small,.mute{color:var(--mute)}
    .badge{display:inline-block;padding:.1em .55em;border-radius:1em;color:#fff;font-weight:600;font-size:.85em;white-space:nowrap}
    .healthy{background:var(--ok)}.partial,.warning{background:var(--warn)}.failed,.stale,.never-run,.frozen{background:var(--bad)}
    .running{background:var(--run)}.queued{background:#8250df}
    .alarm{color:var(--bad);font-weight:700}.sev-error{color:var(--bad)}.sev-warning{color:var(--warn)}
    form.inline{display:inline}button,input[type=submit]{font:inherit;padding:.3em .8em;border-radius:6px;border:1px solid var(--line);background:#fff;cursor:pointer}
    button.primary{background:var(--run);color:#fff;border-color:var(--run)}button.danger{background:var(--bad);color:#fff;border-color:var(--bad)}
    input[type=text],input[type=password],select{font:inherit;padding:.35em;border:1px solid var(--line);border-radius:6px;max-width:100%}
    .card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:1em;margin:1em 0}
    .login{max-width:360px;margin:3em auto}.login label{display:block;margin:.6em 0 .2em}.login input{width:100%}
    .error{color:var(--bad);font-weight:600}.actions form{display:inline-block;margin:.2em .3em .2em 0}
    svg{max-width:100%;height:auto;background:#fff;border:1px solid var(--line);border-radius:8px}
    pre{white-space:pre-wrap;word-break:break-word;background:#fff;border:1px solid var(--line);padding:.8em;font-size:.85em}
    @media (max-width:720px){table.sites thead{display:none}table.sites tr{display:block;border-bottom:2px solid var(--line)}
    table.sites td{display:block;border:0;padding:.25em .6em}table.sites td[data-label]::before{content:attr(data-label) ": ";font-weight:600;color:var(--mute)}}
    """
}
