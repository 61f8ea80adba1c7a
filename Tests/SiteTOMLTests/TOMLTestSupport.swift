import SiteTOML
import XCTest

/// Asserts a position equals (line, column).
func assertPosition(_ position: TOMLPosition?, _ line: Int, _ column: Int,
                    file: StaticString = #filePath, line testLine: UInt = #line) {
    XCTAssertEqual(position, TOMLPosition(line: line, column: column), file: file, line: testLine)
}

/// Asserts that parsing `text` fails at (line, column) with a message containing `fragment`.
func assertTOMLError(_ text: String, at line: Int, _ column: Int, _ fragment: String,
                     file: StaticString = #filePath, line testLine: UInt = #line) {
    do {
        _ = try TOML.parse(text)
        XCTFail("expected an error containing \"\(fragment)\" for: \(text.debugDescription)", file: file, line: testLine)
    } catch let error as TOMLError {
        XCTAssertEqual(error.position, TOMLPosition(line: line, column: column),
                       "position of \(error)", file: file, line: testLine)
        XCTAssertTrue(error.message.contains(fragment),
                      "message \"\(error.message)\" lacks \"\(fragment)\"", file: file, line: testLine)
    } catch {
        XCTFail("unexpected error type \(error)", file: file, line: testLine)
    }
}

/// Parses `text`, failing the test (and returning an empty table) on error.
func parseOK(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> TOMLTable {
    do {
        return try TOML.parse(text)
    } catch {
        XCTFail("unexpected error: \(error)", file: file, line: line)
        return TOMLTable()
    }
}

/// A compact, order-preserving rendering of a value, for structural comparisons:
/// `{a=1,b=[true,"x"],c=dt(1979-05-27)}`.
func dump(_ value: TOMLValue) -> String {
    switch value {
    case .string(let s):
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out + "\""
    case .integer(let i): return String(i)
    case .float(let d): return String(d)
    case .boolean(let b): return String(b)
    case .datetime(let s): return "dt(\(s))"
    case .array(let a): return "[" + a.map { dump($0.value) }.joined(separator: ",") + "]"
    case .table(let t): return dump(t)
    }
}

func dump(_ table: TOMLTable) -> String {
    "{" + table.entries.map { "\($0.key)=\(dump($0.node.value))" }.joined(separator: ",") + "}"
}
