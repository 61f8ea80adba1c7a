import Foundation
@testable import SiteBackup
import XCTest

/// The webhook bodies: the JSON one matches its documentation field for field; the chat one is
/// `{"text": …}` only, escaped as Slack asks.
final class AlertBodyTests: XCTestCase {
    let body = Alerts.Body(site: "shop", host: "web1", run_id: "r1", result: "failed", failure: "destination-missing",
                           message_id: 2900, severity: "error", time: "2026-11-25T02:30:41Z", text: "a <b> & c",
                           snapshot: "abc", components: [["name": "db", "result": "failed", "message": ""]], hook: "ok")

    func testDocumentedFieldsAreExactlyTheBodysFields() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/control-file.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        let start = try XCTUnwrap(text.range(of: "**Body** with `webhook_format = \"json\"`"))
        let end = try XCTUnwrap(text.range(of: "Example (", range: start.upperBound..<text.endIndex))
        let documented = text[start.upperBound..<end.lowerBound].split(separator: "\n")
            .filter { $0.hasPrefix("| `") }.compactMap { $0.split(separator: "`").dropFirst().first.map(String.init) }
        let encoded = try XCTUnwrap(try JSONSerialization.jsonObject(with: JSONEncoder().encode(body)) as? [String: Any])
        XCTAssertEqual(Set(documented), Set(encoded.keys))
        XCTAssertEqual(documented.count, encoded.count, "each field documented once")
    }

    func testChatBodyIsOnlyTextEscapedForSlack() throws {
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(Alerts.chatBody(body))) as? [String: Any])
        XCTAssertEqual(Array(obj.keys), ["text"])
        XCTAssertEqual(obj["text"] as? String, "sitevault: site shop on web1: failed\na &lt;b&gt; &amp; c\nrun r1, snapshot abc")
    }
}
