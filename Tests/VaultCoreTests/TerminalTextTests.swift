import VaultCore
import XCTest

final class TerminalTextTests: XCTestCase {
    func testControlCharactersAreEscaped() {
        XCTAssertEqual(TerminalText.escape("esc\u{1B}[31mRED\nfake line"), "esc\\x1b[31mRED\\nfake line")
        XCTAssertEqual(TerminalText.escape("a\tb\rc\u{0}d\u{7F}e\u{85}f\u{9B}g"), "a\\tb\\rc\\x00d\\x7fe\\x85f\\x9bg")
        XCTAssertEqual(TerminalText.escape("line\u{2028}sep\u{2029}"), "line\\u{2028}sep\\u{2029}")
    }

    func testOtherTextIsKept() {
        for s in ["", "plain", "café/ü", "🦀 \\x1b stays", "\u{202E}rtl", "a\\nb"] {
            XCTAssertEqual(TerminalText.escape(s), s)
        }
    }

    func testEscapingTwiceChangesNothingMore() {
        let once = TerminalText.escape("x\u{1B}\n\u{2028}y")
        XCTAssertEqual(TerminalText.escape(once), once)
        XCTAssertFalse(once.unicodeScalars.contains { $0.value < 0x20 })
        XCTAssertEqual("a\nb".escapingControlCharacters, "a\\nb")
    }
}
