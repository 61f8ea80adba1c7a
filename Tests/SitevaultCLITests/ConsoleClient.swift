import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A browser-like HTTP client for the console tests: curl run to its end (no process held open),
/// with its own cookie jar, so each client is one logged-in (or not) browser.
final class ConsoleClient {
    struct Reply { var status: Int; var body: String; var headers: String }
    let base: String
    let jar: String
    /// More curl options for every request (e.g. `--cacert FILE` for a console served over TLS).
    let curlOptions: [String]
    /// curl's exit status of the last request (0: a reply came; 60: the certificate was not trusted).
    private(set) var curlStatus: Int32 = 0

    init(base: String, folder: String, curlOptions: [String] = []) {
        self.base = base.hasSuffix("/") ? String(base.dropLast()) : base
        jar = folder + "/jar-\(UUID().uuidString.prefix(8))"
        self.curlOptions = curlOptions
    }

    func get(_ path: String, headers: [String] = []) -> Reply { request(["-X", "GET"] + headers.flatMap { ["-H", $0] }, path) }

    /// POSTs `form` url-encoded (values given as they are; the test passes plain tokens).
    func post(_ path: String, _ form: [String: String]) -> Reply {
        let body = form.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(separator: "&")
        return request(["-X", "POST", "--data-binary", "@-"], path, stdin: body)
    }

    func request(_ args: [String], _ path: String, stdin: String = "") -> Reply {
        let out = jar + ".body", hdr = jar + ".hdr"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        p.arguments = ["-s", "-b", jar, "-c", jar, "-o", out, "-D", hdr, "-w", "%{http_code}", "--max-time", "30"] + curlOptions + args + [base + path]
        let inFile = jar + ".in"
        FileManager.default.createFile(atPath: inFile, contents: Data(stdin.utf8))
        p.standardInput = FileHandle(forReadingAtPath: inFile)
        let codeFile = jar + ".code"
        FileManager.default.createFile(atPath: codeFile, contents: nil)
        p.standardOutput = FileHandle(forWritingAtPath: codeFile)
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try? p.run()
        p.waitUntilExit()
        curlStatus = p.terminationStatus
        let code = Int((try? String(contentsOfFile: codeFile, encoding: .utf8)) ?? "") ?? 0
        return Reply(status: code, body: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                     headers: (try? String(contentsOfFile: hdr, encoding: .utf8)) ?? "")
    }

    /// The value of the first `<input name="NAME" value="...">` in a page.
    static func field(_ name: String, in html: String) -> String? {
        guard let r = html.range(of: "name=\"\(name)\" value=\"") else { return nil }
        let rest = html[r.upperBound...]
        return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
    }

    /// Logs in through the form; returns the reply to the POST.
    @discardableResult
    func login(_ user: String, _ password: String) -> Reply {
        let page = get("/login")
        return post("/login", ["login_token": ConsoleClient.field("login_token", in: page.body) ?? "", "user": user, "password": password])
    }

    /// The session's CSRF token (from the log-out form every page has).
    func csrf() -> String? { ConsoleClient.field("csrf", in: get("/").body) }
}
