import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A real mail path for the alert tests: msmtp (a sendmail interface with `-t`) hands messages over
/// SMTP to an aiosmtpd server on loopback, which stores them in a Maildir; Python's e-mail parser
/// reads them back. Both come from `scripts/install-deps.sh --tests` (Debian packages msmtp and
/// python3-aiosmtpd).
extension SiteTestCase {
    var maildir: String { tmp.path + "/maildir" }
    var sendmail: String { tmp.path + "/sendmail" }

    /// Starts the SMTP sink and writes `sendmail`: msmtp with a configuration pointing at the sink.
    func startMailSink() throws {
        let python = "/usr/bin/python3", msmtp = "/usr/bin/msmtp"
        guard FileManager.default.isExecutableFile(atPath: msmtp), shell("\(python) -c 'import aiosmtpd' 2>/dev/null") == 0 else {
            XCTFail("msmtp or python3-aiosmtpd is missing: run scripts/install-deps.sh --tests")
            throw XCTSkip("no mail catcher")
        }
        let script = tmp.path + "/smtpsink.py", portFile = tmp.path + "/smtp-port"
        try """
        import asyncio, os, sys
        from aiosmtpd.smtp import SMTP
        from aiosmtpd.handlers import Mailbox
        async def main():
            handler = Mailbox(sys.argv[2])
            server = await asyncio.get_running_loop().create_server(lambda: SMTP(handler), '127.0.0.1', 0)
            open(sys.argv[1] + '.tmp', 'w').write(str(server.sockets[0].getsockname()[1]))
            os.rename(sys.argv[1] + '.tmp', sys.argv[1])
            await server.serve_forever()
        asyncio.run(main())
        """.write(toFile: script, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [script, portFile, maildir]
        try p.run()
        extraPids.append(p.processIdentifier)
        XCTAssertTrue(waitForFile(portFile, timeout: 20), "the SMTP sink started")
        let port = try String(contentsOfFile: portFile, encoding: .utf8)
        let rc = tmp.path + "/msmtprc"
        try "account default\nhost 127.0.0.1\nport \(port)\nauth off\ntls off\nfrom sitevault@test.invalid\n"
            .write(toFile: rc, atomically: true, encoding: .utf8)
        chmod(rc, 0o600)
        try "#!/bin/sh\nexec \(msmtp) -C \(rc) \"$@\"\n".write(toFile: sendmail, atomically: true, encoding: .utf8)
        chmod(sendmail, 0o755)
    }

    /// The messages in the sink, parsed by Python's e-mail package (headers decoded, body decoded),
    /// with the envelope recipients (X-RcptTo), the raw header block and the parser's defects.
    func receivedMail() throws -> [[String: Any]] {
        let reader = tmp.path + "/readmail.py"
        try """
        import email, email.policy, json, os, sys
        out = []
        d = os.path.join(sys.argv[1], 'new')
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            raw = open(os.path.join(d, name), 'rb').read()
            m = email.message_from_bytes(raw, policy=email.policy.default)
            out.append({"headers": [[k, str(v)] for k, v in m.items()],
                        "raw_headers": raw.split(b"\\n\\n")[0].decode("ascii", "replace"),
                        "body": m.get_content(), "rcpt": m["X-RcptTo"],
                        "defects": [type(x).__name__ for x in m.defects]})
        print(json.dumps(out))
        """.write(toFile: reader, atomically: true, encoding: .utf8)
        let outFile = tmp.path + "/mail.json"
        XCTAssertEqual(shell("/usr/bin/python3 \(reader) \(maildir) > \(outFile)"), 0)
        return try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: outFile))) as? [[String: Any]] ?? []
    }

    func header(_ mail: [String: Any], _ name: String) -> [String] {
        (mail["headers"] as? [[String]] ?? []).filter { $0[0].lowercased() == name.lowercased() }.map { $0[1] }
    }

    /// This machine's host name, as sitevault reports it.
    func hostname() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        gethostname(&buf, 255)
        return String(cString: buf)
    }
}
