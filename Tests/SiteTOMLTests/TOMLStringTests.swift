import SiteTOML
import XCTest

final class TOMLStringTests: XCTestCase {
    func testBasicStringEscapes() throws {
        let root = try TOML.parse(#"s = "a\b\t\n\f\r\"\\ \u00E9 \U0001F600 end""#)
        XCTAssertEqual(root["s"]?.string, "a\u{08}\t\n\u{0C}\r\"\\ é 😀 end")
        XCTAssertEqual(root["s"]?.typeName, "string")
    }

    func testLiteralStrings() throws {
        let root = try TOML.parse(#"""
        winpath = 'C:\Users\nodejs\templates'
        quoted = 'Tom "Dubs" Preston-Werner'
        regex = '<\i\c*\s*>'
        tab = 'a	b'
        """#)
        XCTAssertEqual(root["winpath"]?.string, #"C:\Users\nodejs\templates"#)
        XCTAssertEqual(root["quoted"]?.string, #"Tom "Dubs" Preston-Werner"#)
        XCTAssertEqual(root["regex"]?.string, #"<\i\c*\s*>"#)
        XCTAssertEqual(root["tab"]?.string, "a\tb")
    }

    func testMultilineBasicStrings() throws {
        let root = try TOML.parse(#"""
        a = """
        Roses are red
        Violets are blue"""
        b = """
        The quick brown \
          fox jumps over \

            the lazy dog."""
        c = """Here are two quotation marks: "". Simple enough."""
        d = """Here are three quotation marks: ""\"."""
        e = """""one"""""
        f = """trailing\t
        """
        after = 1
        """#)
        XCTAssertEqual(root["a"]?.string, "Roses are red\nViolets are blue")
        XCTAssertEqual(root["b"]?.string, "The quick brown fox jumps over the lazy dog.")
        XCTAssertEqual(root["c"]?.string, #"Here are two quotation marks: "". Simple enough."#)
        XCTAssertEqual(root["d"]?.string, #"Here are three quotation marks: """."#)
        XCTAssertEqual(root["e"]?.string, "\"\"one\"\"")
        XCTAssertEqual(root["f"]?.string, "trailing\t\n")
        assertPosition(root["after"]?.keyPosition, 14, 1)
    }

    func testMultilineLiteralStrings() throws {
        let root = try TOML.parse(#"""
        regex2 = '''I [dw]on't need \d{2} apples'''
        lines = '''
        The first newline is
        trimmed in raw strings.
           All other whitespace \
           is preserved.
        '''
        quotes = ''''That,' she said, 'is still pointless.''''
        """#)
        XCTAssertEqual(root["regex2"]?.string, #"I [dw]on't need \d{2} apples"#)
        XCTAssertEqual(root["lines"]?.string, "The first newline is\ntrimmed in raw strings.\n   All other whitespace \\\n   is preserved.\n")
        XCTAssertEqual(root["quotes"]?.string, "'That,' she said, 'is still pointless.'")
    }

    func testCRLFAndBOM() throws {
        let root = try TOML.parse("\u{FEFF}a = 1\r\nb = \"\"\"x\r\ny\"\"\"\r\n# note\r\nc = 'z' # trailing\r\n")
        XCTAssertEqual(root["a"]?.integer, 1)
        assertPosition(root["a"]?.keyPosition, 1, 1)
        XCTAssertEqual(root["b"]?.string, "x\ny")
        assertPosition(root["c"]?.position, 5, 5)
    }

    func testStringErrors() {
        assertTOMLError("a = \"abc\nb = 1", at: 1, 5, "unterminated string")
        assertTOMLError("a = 'abc", at: 1, 5, "unterminated string")
        assertTOMLError("a = 1\nb = \"\"\"abc\n", at: 2, 5, "unterminated multi-line string")
        assertTOMLError("a = '''abc''", at: 1, 5, "unterminated multi-line string")
        assertTOMLError(#"a = "x\qy""#, at: 1, 7, #"invalid escape sequence '\q'"#)
        assertTOMLError(#"a = "\e""#, at: 1, 6, "invalid escape sequence")
        assertTOMLError(#"a = "\u12G4""#, at: 1, 6, "expected 4 hex digits")
        assertTOMLError(#"a = "\uD800""#, at: 1, 6, "not a Unicode scalar value")
        assertTOMLError(#"a = "\U00110000""#, at: 1, 6, "not a Unicode scalar value")
        assertTOMLError("a = \"x\u{01}y\"", at: 1, 7, "control character U+0001")
        assertTOMLError("a = 'x\u{7F}'", at: 1, 7, "control character U+007F")
        assertTOMLError("a = \"\"\"x\ry\"\"\"", at: 1, 9, "control character U+000D")
        assertTOMLError("a = \"\"\"a\"\"\"\"\"\"", at: 1, 9, "too many quotes")
        assertTOMLError("a = \"\"\"x \\ y\"\"\"", at: 1, 10, "invalid escape sequence")
        assertTOMLError("# bad \u{07} comment", at: 1, 7, "control character U+0007 is not allowed in a comment")
    }
}
