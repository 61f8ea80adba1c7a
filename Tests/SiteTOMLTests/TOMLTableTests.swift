import SiteTOML
import XCTest

final class TOMLTableTests: XCTestCase {
    let site = """
    # site config
    title = "Example"
    [server]
    host = "localhost"
    port = 8080

    [[component]]
    name = "db"
    paths = ["/var/lib", "/etc"]

    [[component]]
      name = "web"
      opts = { user = "www", retries = 3 }
    """

    func testTablePositions() throws {
        let root = try TOML.parse(site)
        assertPosition(root.position, 1, 1)
        XCTAssertEqual(root.keys, ["title", "server", "component"])
        assertPosition(root["title"]?.keyPosition, 2, 1)
        assertPosition(root["title"]?.position, 2, 9)
        let server = try XCTUnwrap(root["server"])
        assertPosition(server.position, 3, 1)
        assertPosition(server.keyPosition, 3, 2)
        assertPosition(server.table?.position, 3, 1)
        assertPosition(server.table?["port"]?.position, 5, 8)
        XCTAssertEqual(server.table?["port"]?.integer, 8080)
    }

    func testArrayOfTablesPositions() throws {
        let root = try TOML.parse(site)
        let components = try XCTUnwrap(root["component"])
        XCTAssertEqual(components.typeName, "array")
        assertPosition(components.position, 7, 1)
        assertPosition(components.keyPosition, 7, 3)
        let elements = try XCTUnwrap(components.array)
        XCTAssertEqual(elements.count, 2)
        XCTAssertEqual(elements.map { $0.table?["name"]?.string }, ["db", "web"])
        assertPosition(elements[1].position, 11, 1)
        assertPosition(elements[1].keyPosition, 11, 3)
        assertPosition(elements[1].table?.position, 11, 1)
        let web = try XCTUnwrap(elements[1].table)
        assertPosition(web["name"]?.keyPosition, 12, 3)
        assertPosition(web["name"]?.position, 12, 10)
        assertPosition(web["opts"]?.position, 13, 10)
        let opts = try XCTUnwrap(web["opts"]?.table)
        assertPosition(opts["user"]?.keyPosition, 13, 12)
        assertPosition(opts["user"]?.position, 13, 19)
        assertPosition(opts["retries"]?.keyPosition, 13, 26)
        assertPosition(opts["retries"]?.position, 13, 36)
        assertPosition(elements[0].table?["paths"]?.array?[1].position, 9, 22)
    }

    func testNestedArraysOfTablesAndSubTables() throws {
        let root = try TOML.parse("""
        [[fruits]]
        name = "apple"

        [fruits.physical]  # subtable of the last element
        color = "red"

        [[fruits.varieties]]
        name = "red delicious"

        [[fruits.varieties]]
        name = "granny smith"

        [[fruits]]
        name = "banana"

        [[fruits.varieties]]
        name = "plantain"
        """)
        let fruits = try XCTUnwrap(root["fruits"]?.array)
        XCTAssertEqual(fruits.count, 2)
        XCTAssertEqual(fruits[0].table?.node(at: ["physical", "color"])?.string, "red")
        XCTAssertEqual(fruits[0].table?["varieties"]?.array?.compactMap { $0.table?["name"]?.string },
                       ["red delicious", "granny smith"])
        XCTAssertEqual(fruits[1].table?["varieties"]?.array?.compactMap { $0.table?["name"]?.string }, ["plantain"])
        XCTAssertNil(fruits[1].table?["physical"])
        assertPosition(fruits[0].table?["physical"]?.position, 4, 1)
        assertPosition(fruits[0].table?["physical"]?.keyPosition, 4, 9)
        assertPosition(fruits[1].table?["varieties"]?.array?[0].table?["name"]?.keyPosition, 17, 1)
    }

    func testImplicitAndDottedTables() throws {
        let root = try TOML.parse("""
        [x.y.z.w]
        a = 1
        [x]
        b = 2
        [fruit]
        apple.color = "red"
        apple.taste.sweet = true
        [fruit.apple.texture]
        smooth = true
        """)
        XCTAssertEqual(root.node(at: ["x", "y", "z", "w", "a"])?.integer, 1)
        XCTAssertEqual(root["x"]?.table?.keys, ["y", "b"])
        assertPosition(root["x"]?.position, 3, 1)
        assertPosition(root.node(at: ["x", "y"])?.position, 1, 4)
        XCTAssertEqual(root.node(at: ["fruit", "apple"])?.table?.keys, ["color", "taste", "texture"])
        XCTAssertEqual(root.node(at: ["fruit", "apple", "texture", "smooth"])?.bool, true)
        assertPosition(root.node(at: ["fruit", "apple"])?.keyPosition, 6, 1)
    }

    func testTableErrors() {
        assertTOMLError("[a]\nx = 1\n[b]\n[a]", at: 4, 2, "table 'a' already defined at line 1")
        assertTOMLError("[a.b]\n[a]\n[a]", at: 3, 2, "table 'a' already defined at line 2")
        assertTOMLError("[fruit]\napple.color = 1\n[fruit.apple]", at: 3, 8,
                        "table 'fruit.apple' was already defined by dotted keys at line 2")
        assertTOMLError("[a.b.c]\nz = 9\n[a]\nb.c.t = 1", at: 4, 3, "cannot add keys to table 'b.c' with dotted keys")
        assertTOMLError("a = {x = 1}\na.y = 2", at: 2, 1, "cannot extend inline table 'a' (defined at line 1)")
        assertTOMLError("a = {x = 1}\n[a]", at: 2, 2, "cannot redefine inline table 'a'")
        assertTOMLError("a = {x = 1}\n[a.b]", at: 2, 2, "cannot extend inline table 'a'")
        assertTOMLError("a = [1]\n[[a]]", at: 2, 3, "cannot append to static array 'a' (defined at line 1)")
        assertTOMLError("a = [{b = 1}]\n[a.c]", at: 2, 2, "cannot extend static array 'a'")
        assertTOMLError("[a]\n[[a]]", at: 2, 3, "cannot define array of tables 'a': it is already a table")
        assertTOMLError("[[a]]\n[a]", at: 2, 2, "cannot define table 'a': it is already an array of tables")
        assertTOMLError("a = 1\n[a]", at: 2, 2, "duplicate key 'a' (first defined at line 1)")
        assertTOMLError("a = 1\n[a.b]", at: 2, 2, "'a' is an integer (defined at line 1), not a table")
        assertTOMLError("[a", at: 1, 3, "expected ']' to close the table header, found end of file")
        assertTOMLError("[[a]", at: 1, 4, "expected ']]' to close the array-of-tables header")
        assertTOMLError("[[a] ]", at: 1, 4, "expected ']]'")
        assertTOMLError("[]", at: 1, 2, "expected a key, found ']'")
        assertTOMLError("[a] b = 1", at: 1, 5, "expected a newline after the table header, found 'b'")
        assertTOMLError("[a b]", at: 1, 4, "expected ']' to close the table header, found 'b'")
    }
}
