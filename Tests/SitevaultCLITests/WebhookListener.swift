import Foundation
import XCTest

/// A local webhook receiver for the alert tests.
extension SiteTestCase {
    /// Starts a real HTTP listener (python3) that records each request; returns its URL and log file.
    /// Paths under /fail are answered 500, every other 200.
    func startListener() throws -> (url: String, log: String) {
        let script = tmp.path + "/listener.py", portFile = tmp.path + "/port", log = tmp.path + "/requests.jsonl"
        try """
        import http.server, json, sys
        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
                with open(sys.argv[2], 'a') as f:
                    f.write(json.dumps({"path": self.path, "type": self.headers.get('Content-Type'), "body": body.decode()}) + "\\n")
                code = 500 if self.path.startswith('/fail') else 200
                self.send_response(code); self.end_headers(); self.wfile.write(b"ok" if code == 200 else b"broken")
            def log_message(self, *a): pass
        s = http.server.HTTPServer(('127.0.0.1', 0), H)
        open(sys.argv[1] + '.tmp', 'w').write(str(s.server_address[1]))
        import os; os.rename(sys.argv[1] + '.tmp', sys.argv[1])
        s.serve_forever()
        """.write(toFile: script, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", script, portFile, log]
        try p.run()
        extraPids.append(p.processIdentifier)
        XCTAssertTrue(waitForFile(portFile, timeout: 20))
        let port = try String(contentsOfFile: portFile, encoding: .utf8)
        return ("http://127.0.0.1:\(port)/hooks/sitevault?token=secret", log)
    }

    func requests(_ log: String) -> [[String: Any]] {
        ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }
}
