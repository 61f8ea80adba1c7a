import SiteTOML
import XCTest

/// Deterministic SplitMix64 generator so failures are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

final class TOMLFuzzTests: XCTestCase {
    static let sample = #"""
    # sample
    title = "TOML \"x\" \u00E9"
    lit = 'C:\path'
    ml = """
    a \
      b"""
    mll = '''
    raw'''
    [owner]
    name = "Tom"
    dob = 1979-05-27T07:32:00-08:00
    t = 07:32:00
    [database]
    ports = [ 8000, 8001, 0x1F, 0o7, 0b1 ]
    data = [ ["delta", "phi"], [3.14, -1e5, inf] ]
    temp = { cpu = 79.5, case = 72.0, a.b = true }
    [servers.alpha]
    ip = "10.0.0.1"
    [[products]]
    name = "Hammer"
    sku = 738_594_937
    [[products.parts]]
    x = { y = [1, 2,], z = {} }
    "quoted key".'lit key' = 1_000
    """#

    static let alphabet: [Unicode.Scalar] = Array("[]{}=.,\"'#\\\n\r\t 0123456789abxoeEtfuU_+-:TZ".unicodeScalars)
        + ["\u{00}", "\u{7F}", "\u{FEFF}", "é", "😀", "\u{1F}"]

    /// Applies one random edit.
    static func mutate(_ s: [Unicode.Scalar], _ rng: inout SplitMix64) -> [Unicode.Scalar] {
        var s = s
        let at = s.isEmpty ? 0 : Int.random(in: 0..<s.count, using: &rng)
        switch Int.random(in: 0..<5, using: &rng) {
        case 0:
            s = Array(s[..<at])                           // truncate
        case 1:
            if !s.isEmpty {                               // delete a short range
                let end = min(s.count, at + Int.random(in: 1...4, using: &rng))
                s.removeSubrange(at..<end)
            }
        case 2:
            s.insert(alphabet.randomElement(using: &rng) ?? "x", at: at)  // insert
        case 3:
            if !s.isEmpty { s[at] = alphabet.randomElement(using: &rng) ?? "x" }  // replace
        default:
            if !s.isEmpty {                               // duplicate a slice elsewhere
                let end = min(s.count, at + Int.random(in: 1...20, using: &rng))
                let slice = s[at..<end]
                s.insert(contentsOf: slice, at: Int.random(in: 0...s.count, using: &rng))
            }
        }
        return s
    }

    func testSampleParses() throws {
        let root = try TOML.parse(Self.sample)
        XCTAssertEqual(root.keys, ["title", "lit", "ml", "mll", "owner", "database", "servers", "products"])
        XCTAssertEqual(root["ml"]?.string, "a b")
    }

    func testRandomMutationsOnlyThrowTOMLError() {
        var rng = SplitMix64(state: 0x5EED)
        let base = Array(Self.sample.unicodeScalars)
        var parsed = 0
        var failed = 0
        for _ in 0..<3000 {
            var doc = base
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                doc = Self.mutate(doc, &rng)
            }
            var text = String.UnicodeScalarView()
            text.append(contentsOf: doc)
            do {
                _ = try TOML.parse(String(text))
                parsed += 1
            } catch let error as TOMLError {
                failed += 1
                XCTAssertGreaterThanOrEqual(error.position.line, 1)
                XCTAssertGreaterThanOrEqual(error.position.column, 1)
                XCTAssertFalse(error.message.isEmpty)
            } catch {
                XCTFail("non-TOMLError thrown: \(error)")
            }
        }
        XCTAssertGreaterThan(parsed, 0)
        XCTAssertGreaterThan(failed, 0)
    }

    func testErrorDescription() {
        let error = TOMLError(position: TOMLPosition(line: 12, column: 3), message: "unknown key 'pathz'")
        XCTAssertEqual(error.description, "line 12, column 3: unknown key 'pathz'")
        XCTAssertEqual(TOMLPosition(line: 2, column: 7).description, "line 2, column 7")
    }
}
