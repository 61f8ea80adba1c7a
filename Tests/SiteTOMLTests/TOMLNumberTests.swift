import SiteTOML
import XCTest

final class TOMLNumberTests: XCTestCase {
    func testIntegers() throws {
        let root = try TOML.parse("""
        int1 = +99
        int2 = 42
        int3 = 0
        int4 = -17
        int5 = 1_000
        int6 = 5_349_221
        hex1 = 0xDEADBEEF
        hex2 = 0xdead_beef
        oct1 = 0o755
        bin1 = 0b11010110
        max = 9223372036854775807
        min = -9223372036854775808
        hexmax = 0x7FFFFFFFFFFFFFFF
        zero = -0
        """)
        let expected: [(String, Int64)] = [
            ("int1", 99), ("int2", 42), ("int3", 0), ("int4", -17), ("int5", 1000), ("int6", 5_349_221),
            ("hex1", 0xDEADBEEF), ("hex2", 0xDEADBEEF), ("oct1", 0o755), ("bin1", 0b11010110),
            ("max", .max), ("min", .min), ("hexmax", .max), ("zero", 0),
        ]
        for (key, value) in expected {
            XCTAssertEqual(root[key]?.integer, value, key)
            XCTAssertEqual(root[key]?.typeName, "integer", key)
        }
    }

    func testFloats() throws {
        let root = try TOML.parse("""
        flt1 = +1.0
        flt2 = 3.1415
        flt3 = -0.01
        flt4 = 5e+22
        flt5 = 1e06
        flt6 = -2E-2
        flt7 = 6.626e-34
        flt8 = 224_617.445_991_228
        flt9 = 0e0
        sf1 = inf
        sf2 = +inf
        sf3 = -inf
        sf4 = nan
        sf5 = +nan
        sf6 = -nan
        """)
        XCTAssertEqual(root["flt1"]?.float, 1.0)
        XCTAssertEqual(root["flt2"]?.float, 3.1415)
        XCTAssertEqual(root["flt3"]?.float, -0.01)
        XCTAssertEqual(root["flt4"]?.float, 5e22)
        XCTAssertEqual(root["flt5"]?.float, 1e6)
        XCTAssertEqual(root["flt6"]?.float, -0.02)
        XCTAssertEqual(root["flt7"]?.float, 6.626e-34)
        XCTAssertEqual(root["flt8"]?.float, 224_617.445_991_228)
        XCTAssertEqual(root["flt9"]?.float, 0)
        XCTAssertEqual(root["sf1"]?.float, .infinity)
        XCTAssertEqual(root["sf2"]?.float, .infinity)
        XCTAssertEqual(root["sf3"]?.float, -.infinity)
        for key in ["sf4", "sf5", "sf6"] {
            XCTAssertEqual(root[key]?.float?.isNaN, true, key)
        }
        XCTAssertEqual(root["flt1"]?.typeName, "float")
        XCTAssertNil(root["flt1"]?.integer)
    }

    func testBooleans() throws {
        let root = try TOML.parse("t = true\nf = false")
        XCTAssertEqual(root["t"]?.bool, true)
        XCTAssertEqual(root["f"]?.bool, false)
        XCTAssertEqual(root["f"]?.typeName, "boolean")
        assertTOMLError("t = True", at: 1, 5, "invalid value 'True' (strings must be quoted)")
        assertTOMLError("t = truex", at: 1, 5, "invalid value 'truex'")
    }

    func testNumberErrors() {
        assertTOMLError("a = 012", at: 1, 5, "invalid number '012': leading zeros are not allowed")
        assertTOMLError("a = -01.5", at: 1, 5, "leading zeros are not allowed")
        assertTOMLError("x = 1\na = 1__2", at: 2, 5, "invalid number '1__2'")
        assertTOMLError("a = 1_", at: 1, 5, "invalid number")
        assertTOMLError("a = _1", at: 1, 5, "invalid number")
        assertTOMLError("a = 9223372036854775808", at: 1, 5, "out of range for a 64-bit integer")
        assertTOMLError("a = -9223372036854775809", at: 1, 5, "out of range")
        assertTOMLError("a = 0x8000000000000000", at: 1, 5, "out of range")
        assertTOMLError("a = 0x", at: 1, 5, "invalid number '0x'")
        assertTOMLError("a = +0x1", at: 1, 5, "invalid number")
        assertTOMLError("a = 0o8", at: 1, 5, "invalid number")
        assertTOMLError("a = 0X1F", at: 1, 5, "invalid number")
        assertTOMLError("a = 1.", at: 1, 5, "expected digits after the decimal point")
        assertTOMLError("a = .5", at: 1, 5, "invalid number")
        assertTOMLError("a = 1e", at: 1, 5, "expected digits in the exponent")
        assertTOMLError("a = 1.e5", at: 1, 5, "invalid number")
        assertTOMLError("a = 1e400", at: 1, 5, "out of range for a 64-bit float")
        assertTOMLError("a = infinity", at: 1, 5, "invalid value")
        assertTOMLError("a = 1 2", at: 1, 7, "expected a newline after the value")
    }
}
