import SiteTOML
import XCTest

final class TOMLDateTimeTests: XCTestCase {
    func testAllFormsKeepRawText() throws {
        let forms = [
            "1979-05-27T07:32:00Z",
            "1979-05-27T00:32:00-07:00",
            "1979-05-27T00:32:00.999999+05:30",
            "1979-05-27 07:32:00Z",
            "1979-05-27t07:32:00z",
            "1979-05-27T07:32:00",
            "1979-05-27T00:32:00.999999",
            "1979-05-27",
            "2024-02-29",
            "07:32:00",
            "00:32:00.999999",
            "23:59:60",
        ]
        let text = forms.enumerated().map { "d\($0.offset) = \($0.element) # c" }.joined(separator: "\n")
        let root = try TOML.parse(text)
        for (i, form) in forms.enumerated() {
            XCTAssertEqual(root["d\(i)"]?.datetime, form)
            XCTAssertEqual(root["d\(i)"]?.typeName, "date-time")
        }
        assertPosition(root["d3"]?.position, 4, 6)
        let inArray = try TOML.parse("a = [1979-05-27 07:32:00, 07:32:00]")
        XCTAssertEqual(inArray["a"]?.array?.map { $0.datetime }, ["1979-05-27 07:32:00", "07:32:00"])
    }

    func testInvalidDateTimes() {
        assertTOMLError("d = 2023-02-29", at: 1, 5, "invalid date-time '2023-02-29': day out of range")
        assertTOMLError("d = 2023-13-01", at: 1, 5, "month out of range")
        assertTOMLError("d = 2023-1-01", at: 1, 5, "expected a date as YYYY-MM-DD")
        assertTOMLError("t = 24:00:00", at: 1, 5, "hour out of range")
        assertTOMLError("t = 12:60:00", at: 1, 5, "minute out of range")
        assertTOMLError("d = 1979-05-27T07:32", at: 1, 5, "expected a time as HH:MM:SS")
        assertTOMLError("d = 1979-05-27T07:32:00+7:00", at: 1, 5, "invalid time zone offset")
        assertTOMLError("d = 1979-05-27T07:32:00.", at: 1, 5, "expected digits after the decimal point")
        assertTOMLError("d = 1979-05-27X07:32:00", at: 1, 5, "expected 'T' between date and time")
        assertTOMLError("d = 1979-05-27 x", at: 1, 16, "expected a newline after the value, found 'x'")
    }
}
