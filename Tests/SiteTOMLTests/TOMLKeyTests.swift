import SiteTOML
import XCTest

final class TOMLKeyTests: XCTestCase {
    func testBareQuotedAndDottedKeys() throws {
        let root = try TOML.parse("""
        key = 1
        bare_key = 2
        bare-key = 3
        1234 = 4
        "127.0.0.1" = 5
        "ʎǝʞ" = 6
        'quoted "value"' = 7
        "" = 8
        site."google.com".x = 9
        fruit . color = "red"
        """)
        XCTAssertEqual(root.keys, ["key", "bare_key", "bare-key", "1234", "127.0.0.1", "ʎǝʞ", "quoted \"value\"", "", "site", "fruit"])
        XCTAssertEqual(root["1234"]?.integer, 4)
        XCTAssertEqual(root[""]?.integer, 8)
        XCTAssertEqual(root.node(at: ["site", "google.com", "x"])?.integer, 9)
        XCTAssertEqual(root.node(at: ["fruit", "color"])?.string, "red")
        // Positions: key part, then value.
        assertPosition(root["127.0.0.1"]?.keyPosition, 5, 1)
        assertPosition(root["127.0.0.1"]?.position, 5, 15)
        assertPosition(root.node(at: ["site", "google.com", "x"])?.keyPosition, 9, 19)
        assertPosition(root.node(at: ["site", "google.com"])?.keyPosition, 9, 6)
        assertPosition(root.node(at: ["fruit", "color"])?.keyPosition, 10, 9)
        assertPosition(root.node(at: ["fruit", "color"])?.position, 10, 17)
        // Columns count Unicode scalars.
        assertPosition(root["ʎǝʞ"]?.position, 6, 9)
    }

    func testDottedKeysBuildTablesInSourceOrder() throws {
        let root = try TOML.parse("""
        name = "Orange"
        physical.color = "orange"
        physical.shape = "round"
        site."google.com" = true
        """)
        XCTAssertEqual(root.keys, ["name", "physical", "site"])
        XCTAssertEqual(root["physical"]?.table?.keys, ["color", "shape"])
        XCTAssertEqual(root["physical"]?.typeName, "table")
        XCTAssertEqual(root.node(at: ["site", "google.com"])?.bool, true)
    }

    func testKeyErrors() {
        assertTOMLError("a = 1\nb = 2\na = 3", at: 3, 1, "duplicate key 'a' (first defined at line 1)")
        assertTOMLError("a.b = 1\na.b = 2", at: 2, 3, "duplicate key 'a.b' (first defined at line 1)")
        assertTOMLError("\"a\" = 1\na = 2", at: 2, 1, "duplicate key 'a'")
        assertTOMLError("a = 1\na.b = 2", at: 2, 1, "'a' is an integer (defined at line 1), not a table")
        assertTOMLError("name \"x\"", at: 1, 6, "expected '=' after key 'name', found '\"'")
        assertTOMLError("name", at: 1, 5, "expected '=' after key 'name', found end of file")
        assertTOMLError("= 1", at: 1, 1, "expected a key, found '='")
        assertTOMLError("a = 1\n$b = 2", at: 2, 1, "expected a key, found '$'")
        assertTOMLError("a. = 1", at: 1, 4, "expected a key, found '='")
        assertTOMLError("\"\"\"a\"\"\" = 1", at: 1, 1, "multi-line string cannot be used as a key")
        assertTOMLError("a = 1 b = 2", at: 1, 7, "expected a newline after the value, found 'b'")
        assertTOMLError("\"unterminated = 1", at: 1, 1, "unterminated string")
    }
}
