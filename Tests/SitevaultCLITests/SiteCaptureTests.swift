import Foundation
import VaultTesting
import XCTest

/// Captured settings are streamed into the repository: an output of any size is stored whole,
/// never cut at the in-memory capture limit (1 MiB).
final class SiteCaptureTests: SiteTestCase {
    func testSettingLongerThanTheCaptureLimitIsStoredWhole() throws {
        try makeSite()
        let size = 3 << 20
        try replaceInControlFile("settings = { version = [",
                                 "settings = { big = [\"sh\", \"-c\", \"head -c \(size) /dev/zero | tr '\\\\0' a; echo end\"], version = [")
        let r = try siteRun("backup", "--json")
        XCTAssertEqual(r.status, 0, "\(r)")
        let config = (json(r)["components"] as? [[String: Any]] ?? []).first { $0["name"] as? String == "config" }
        XCTAssertEqual((config?["settings"] as? [String: Int])?["big"], size + 4, "\(String(describing: config))")
        let dump = try repoRun(["dump", json(r)["snapshot"] as? String ?? "?", "/config/settings/big"])
        XCTAssertEqual(dump.status, 0, "\(dump.stderr)")
        XCTAssertEqual(dump.stdoutData.count, size + 4)
        XCTAssertTrue(dump.stdout.hasSuffix("aaaaend\n"), String(dump.stdout.suffix(20)))
        XCTAssertEqual(dump.stdoutData.filter { $0 == UInt8(ascii: "a") }.count, size)
    }
}
