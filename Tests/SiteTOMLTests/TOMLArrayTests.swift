import SiteTOML
import XCTest

final class TOMLArrayTests: XCTestCase {
    func testArrays() throws {
        let root = try TOML.parse("""
        integers = [ 1, 2, 3 ]
        nested_mixed = [ [ 1, 2 ], ["a", 'b', "c"], 1.5 ]
        empty = []
        multi = [
          1, # one
          # a comment line
          2,
        ]
        contributors = [
          "Foo Bar <foo@example.com>",
          { name = "Baz Qux", url = "https://example.com/bazqux" }
        ]
        """)
        XCTAssertEqual(root["integers"]?.array?.compactMap(\.integer), [1, 2, 3])
        XCTAssertEqual(root["integers"]?.typeName, "array")
        let mixed = try XCTUnwrap(root["nested_mixed"]?.array)
        XCTAssertEqual(mixed.count, 3)
        XCTAssertEqual(mixed[0].array?.compactMap(\.integer), [1, 2])
        XCTAssertEqual(mixed[1].array?.compactMap(\.string), ["a", "b", "c"])
        XCTAssertEqual(mixed[2].float, 1.5)
        XCTAssertEqual(root["empty"]?.array?.count, 0)
        XCTAssertEqual(root["multi"]?.array?.compactMap(\.integer), [1, 2])
        // Element positions, no key positions for elements.
        assertPosition(root["integers"]?.position, 1, 12)
        assertPosition(mixed[1].position, 2, 28)
        assertPosition(mixed[1].array?[1].position, 2, 34)
        XCTAssertNil(mixed[1].keyPosition)
        assertPosition(root["multi"]?.array?[1].position, 7, 3)
        let contributor = try XCTUnwrap(root["contributors"]?.array?[1].table)
        XCTAssertEqual(contributor["name"]?.string, "Baz Qux")
        assertPosition(contributor.position, 11, 3)
        assertPosition(contributor["url"]?.keyPosition, 11, 23)
        assertPosition(contributor["url"]?.position, 11, 29)
    }

    func testInlineTables() throws {
        let root = try TOML.parse("""
        name = { first = "Tom", last = "Preston-Werner" }
        point = {x=1,y=2}
        animal = { type.name = "pug" }
        empty = {}
        nested = { a = { b = [1, {c = true}] } }
        """)
        let name = try XCTUnwrap(root["name"]?.table)
        XCTAssertEqual(name.keys, ["first", "last"])
        assertPosition(root["name"]?.position, 1, 8)
        assertPosition(name.position, 1, 8)
        assertPosition(name["last"]?.keyPosition, 1, 25)
        assertPosition(name["last"]?.position, 1, 32)
        XCTAssertEqual(root.node(at: ["point", "y"])?.integer, 2)
        assertPosition(root.node(at: ["point", "y"])?.keyPosition, 2, 14)
        XCTAssertEqual(root.node(at: ["animal", "type", "name"])?.string, "pug")
        assertPosition(root.node(at: ["animal", "type", "name"])?.keyPosition, 3, 17)
        XCTAssertEqual(root["empty"]?.table?.isEmpty, true)
        let c = root.node(at: ["nested", "a", "b"])?.array?[1].table?["c"]
        XCTAssertEqual(c?.bool, true)
        assertPosition(c?.keyPosition, 5, 27)
    }

    func testArrayAndInlineTableErrors() {
        assertTOMLError("a = [1 2]", at: 1, 8, "expected ',' or ']' in array, found '2'")
        assertTOMLError("a = [1,\n2", at: 2, 2, "unterminated array (opened at line 1, column 5)")
        assertTOMLError("a = [,]", at: 1, 6, "expected a value, found ','")
        assertTOMLError("a = [1,,2]", at: 1, 8, "expected a value, found ','")
        assertTOMLError("a = {x = 1,}", at: 1, 12, "trailing comma is not allowed in an inline table")
        assertTOMLError("a = {x = 1\n}", at: 1, 11, "newlines are not allowed in an inline table")
        assertTOMLError("a = {\nx = 1}", at: 1, 6, "newlines are not allowed in an inline table")
        assertTOMLError("a = {x = 1 y = 2}", at: 1, 12, "expected ',' or '}' in inline table, found 'y'")
        assertTOMLError("a = {x = 1", at: 1, 11, "unterminated inline table")
        assertTOMLError("a = {x = 1, x = 2}", at: 1, 13, "duplicate key 'x' (first defined at line 1)")
        assertTOMLError("a = {x = {y = 1}, x.z = 2}", at: 1, 19, "cannot extend inline table 'x'")
        assertTOMLError("a = \nb = 1", at: 1, 5, "expected a value, found end of line")
        assertTOMLError("a = @", at: 1, 5, "expected a value, found '@'")
        assertTOMLError("a = " + String(repeating: "[", count: 500), at: 1, 105, "nested too deeply")
    }
}
