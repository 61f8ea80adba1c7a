import Foundation
@testable import SiteBackup
import VaultCore
import VaultTesting
import XCTest

/// Hostile and odd control files: whatever the text, the reader either accepts it or refuses it with
/// positioned problems; it never traps. Every accepted file's schedule and staleness are computed too
/// (`site status` used to trap there on values the reader let through).
final class ControlFileFuzzTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The complete example of docs/control-file.md.
    func documentedExample() throws -> String {
        let text = try String(contentsOf: Self.root.appendingPathComponent("docs/control-file.md"), encoding: .utf8)
        guard let marker = text.range(of: "<!-- complete-example -->"),
              let open = text.range(of: "```toml\n", range: marker.upperBound..<text.endIndex),
              let close = text.range(of: "\n```", range: open.upperBound..<text.endIndex) else {
            throw XCTSkip("docs/control-file.md has no complete example block")
        }
        return String(text[open.upperBound..<close.lowerBound])
    }

    /// The sample site's control file, as examples/sample-site/make-site.sh writes it.
    func sampleSite() throws -> String {
        let script = try String(contentsOf: Self.root.appendingPathComponent("examples/sample-site/make-site.sh"), encoding: .utf8)
        guard let start = script.range(of: "cat > \"$dir/site.toml\" <<TOML\n"),
              let end = script.range(of: "\nTOML\n", range: start.upperBound..<script.endIndex) else {
            throw XCTSkip("make-site.sh no longer writes site.toml from a here-document")
        }
        return script[start.upperBound..<end.lowerBound].replacingOccurrences(of: "$dir", with: "/srv/sample")
    }

    /// Accepted (then its schedule is exercised) or refused with problems that all have a position.
    @discardableResult
    func check(_ text: String, store: StatusStore, _ what: @autoclosure () -> String) -> SiteConfig? {
        do {
            let c = try ControlFile.parse(text: text, file: "/fuzz/site.toml", checkPaths: false)
            exercise(c, store: store)
            return c
        } catch let e as ControlFileError {
            XCTAssertFalse(e.problems.isEmpty, "a refusal without any problem for \(what())")
            for p in e.problems where p.line < 1 || p.column < 1 {
                XCTFail("problem without a position (\(p)) for \(what())")
            }
        } catch {
            XCTFail("unexpected error \(error) for \(what())")
        }
        return nil
    }

    /// What `site status` and the service compute from a control file.
    func exercise(_ c: SiteConfig, store: StatusStore) {
        let zone = ScheduleZone(c.timeZone)
        let now = Timestamp(nanoseconds: 1_795_000_000 * 1_000_000_000)
        for s in [c.schedule.calendar, c.drill.schedule].compactMap({ $0 }) {
            _ = DurationText.format(s.maximumGap)
            let next = s.nextRun(after: now, zone: zone)
            _ = s.describe(next: next, zone: zone)
            _ = s.previousRun(atOrBefore: now, zone: zone)
            _ = s.isDue(lastRun: now.adding(seconds: -86400), now: now, zone: zone)
            _ = s.missedRuns(lastRun: now.adding(seconds: -7 * 86400), now: now, zone: zone, limit: 50)
        }
        var cc = c
        cc.stateDir = stateDir
        cc.alerts = AlertConfig()  // the staleness alarm below must not run a fuzzed alert command
        let report = try? SiteStatusReport.compute(config: cc, store: store, now: now)
        XCTAssertNotNil(report, "site status computed for \(c.schedule.calendar?.text ?? "no calendar")")
        // The service's staleness alarm, raised and cleared (the good run is 10 days old).
        var options = SiteRunOptions(hostname: "h", username: "u")
        options.clock = FixedClock(time: now)
        options.echo = MessageEcho(enabled: false)
        let raised = SiteStaleness.check(cc, store: store, raised: false, options: options)
        XCTAssertEqual(raised, report?.stale ?? raised, "the alarm follows staleness")
        _ = SiteStaleness.check(cc, store: store, raised: true, options: options)
        _ = DurationText.format(c.schedule.retentionWindow)
        _ = DurationText.format(c.retention.keepWithin)
    }

    var tmp: TemporaryDirectory!
    var stateDir: String { tmp.path + "/state" }

    override func setUpWithError() throws {
        tmp = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true)
    }

    override func tearDown() { tmp?.remove() }

    /// A store with one good run 10 days old, so staleness compares a real age with the window.
    func makeStore() throws -> StatusStore {
        let store = try StatusStore(stateDir: stateDir)
        let then = Timestamp(nanoseconds: (1_795_000_000 - 10 * 86400) * 1_000_000_000)
        var r = RunReport(site: "shop", runID: "r1", hostname: "h", started: then)
        r.result = "succeeded"; r.finished = then; r.snapshotTime = then
        try store.save(r)
        return store
    }

    /// The inputs that used to trap, each refused at the value.
    func testValuesThatUsedToCrashAreRefusedWithAPosition() throws {
        let store = try makeStore()
        let base = try sampleSite()
        let cases: [(String, String, String)] = [
            ("calendar = \"daily 02:00\"", "calendar = \"daily ,\"", "no time given"),
            ("calendar = \"daily 02:00\"", "calendar = \", 02:00\"", "no day given"),
            ("calendar = \"daily 02:00\"", "calendar = \"every 99999999999999999999w\"", "at most 100y"),
            ("retention_window = \"5d\"", "retention_window = \"99999999999999999999w\"", "too long"),
            ("retention_window = \"5d\"", "retention_window = \"101y\"", "too long"),
            ("keep_daily = 7", "keep_daily = 9223372036854775807", "between 0 and 1000000"),
            ("keep_daily = 7", "keep_daily = 99999999999999999999", "out of range"),
        ]
        for (from, to, reason) in cases {
            XCTAssertTrue(base.contains(from), "the sample site still has \(from)")
            let text = base.replacingOccurrences(of: from, with: to)
            let line = text.components(separatedBy: "\n").firstIndex { $0.hasPrefix(to) }.map { $0 + 1 }
            do {
                _ = try ControlFile.parse(text: text, file: "/fuzz/site.toml", checkPaths: false)
                XCTFail("accepted \(to)")
            } catch let e as ControlFileError {
                XCTAssertTrue(e.problems.contains { $0.line == line && $0.column > 1 && $0.message.contains(reason) },
                              "\(to): expected '\(reason)' at line \(line ?? 0), got \(e.description)")
            }
            check(text, store: store, to)
        }
        // The longest accepted values still compute a next run and a staleness.
        let longest = base.replacingOccurrences(of: "\"daily 02:00\"", with: "\"every 100y\"")
            .replacingOccurrences(of: "\"5d\"", with: "\"100y\"")
        let c = check(longest, store: store, "every 100y")
        XCTAssertEqual(c?.schedule.retentionWindow, DurationText.maximum)
        XCTAssertEqual(DurationText.format(1e300), "more than 100y")
        XCTAssertEqual(Timestamp(seconds: 1e300).nanoseconds, Int64.max)
        XCTAssertEqual(Timestamp(nanoseconds: 0).adding(seconds: -1e300).nanoseconds, Int64.min)
    }

    func testMutatedControlFilesNeverCrash() throws {
        let store = try makeStore()
        var rng = SeededRandom(seed: 0x5173_7661_756C_7421)
        var accepted = 0, refused = 0, calendars = Set<String>()
        for (name, base) in [("docs example", try documentedExample()), ("sample site", try sampleSite())] {
            XCTAssertNotNil(check(base, store: store, name), "\(name) is valid before mutation")
            // Half the runs accept sparse schedules (a warning), so long intervals reach the schedule code.
            let warnSparse = base.contains("sparse = \"refuse\"")
                ? base.replacingOccurrences(of: "sparse = \"refuse\"", with: "sparse = \"warn\"")
                : base.replacingOccurrences(of: "[schedule]\n", with: "[schedule]\nsparse = \"warn\"\n")
            XCTAssertNotEqual(warnSparse, base, "\(name) has a [schedule] table")
            for i in 0..<2000 {
                var text = i % 2 == 0 ? base : warnSparse
                for _ in 0...(rng.next() % 4) { text = Mutator.mutate(text, &rng) }
                if let c = check(text, store: store, "\(name) mutation \(i):\n\(text)") {
                    accepted += 1
                    if let s = c.schedule.calendar?.text { calendars.insert(s) }
                } else { refused += 1 }
            }
        }
        // Both outcomes happen: the mutations neither all break the syntax nor all miss.
        XCTAssertGreaterThan(accepted, 100)
        XCTAssertGreaterThan(refused, 1000)
        XCTAssertGreaterThan(calendars.count, 8, "accepted files with many different calendars: \(calendars.sorted())")
    }
}

struct FixedClock: VaultClock {
    let time: Timestamp
    func now() -> Timestamp { time }
}

/// One random edit of a control file's text: characters, lines, or a key's whole value.
enum Mutator {
    static let characters: [String] = [
        "\"", "'", "[", "]", "{", "}", "=", ",", ".", ":", "#", "\\", " ", "\t", "\n", "\r", "0", "9", "-", "+", "e",
        "a", "Z", "é", "🦀", "\u{0}", "\u{1b}", "\u{7f}", "\u{202e}", "\u{feff}", "\u{85}", "\u{2028}",
    ]
    static let values: [String] = [
        "\"daily ,\"", "\", 02:00\"", "\"every 99999999999999999999w\"", "\"99999999999999999999w\"", "\"\"", "[]",
        "[\"\"]", "99999999999999999999", "-1", "0", "9223372036854775807", "-9223372036854775808", "\"1e400s\"",
        "\".s\"", "\"1..2h\"", "\"Mon.. 02:00\"", "\"..Fri 02:00\"", "\"daily 02:00,\"", "\"every 1e309s\"",
        "\"every 0.0000001s\"", "\"hourly :\"", "\"hourly :99999999999999999999\"", "\"daily 99999999999999999999:00\"",
        "\"Sun..Sat 23:59\"", "\"every 100y\"", "\"100y\"", "\"1y1s\"", "{}", "true", "inf", "nan", "1e308",
        "1979-05-27T07:32:00Z", "\"\\u001b[31mRED\"", "\"all\"", "[\"all\", \"all\"]", "\"/\"", "\"..\"",
        "\"\u{202e}evil\"", "[[]]", "\"Mon,,Tue 02:00\"", "\"daily 2:5\"", "\"every 1h-5m\"", "\"-5d\"",
    ]

    /// Calendar texts, for `calendar` and the drill's `schedule`.
    static let schedules: [String] = [
        "daily ,", ", 02:00", "every 99999999999999999999w", "every 100y", "every 101y", "every 1e309s", "every 0.0000001s",
        "every .5s", "every 1.5h", "hourly :", "hourly :99999999999999999999", "hourly :-1", "daily 99999999999999999999:00",
        "daily 02:00,", "daily ,02:00", "Mon.. 02:00", "..Fri 02:00", "Mon,,Tue 02:00", ",,, 02:00", ".. 02:00", "Sun..Sat 23:59",
        "daily 2:5", "daily -1:00", "daily 02:-0", "Sat..Mon 00:00,23:59", "* 00:00", "MON 02:00", "daily\t02:00", "",
    ]
    /// Duration texts, for `retention_window`, `timeout` and `keep_within`.
    static let durations: [String] = [
        "99999999999999999999w", "100y", "101y", "1y1s", "1e400s", "1e308s", "-5d", "0s", ".s", "1..2h", "1h-5m", "5", "d",
        "0.0000000001s", "3650000d", "٣s", "1w1w1w1w1w1w",
    ]

    static func mutate(_ text: String, _ rng: inout SeededRandom) -> String {
        var lines = text.components(separatedBy: "\n")
        guard !lines.isEmpty else { return text }
        let li = Int(rng.next() % UInt64(lines.count))
        var line = Array(lines[li])
        let at = line.isEmpty ? 0 : Int(rng.next() % UInt64(line.count))
        switch rng.next() % 10 {
        case 0: if !line.isEmpty { line.remove(at: at) }
        case 1: if !line.isEmpty { line.insert(line[at], at: at) }
        case 2: line.insert(contentsOf: pick(characters, &rng), at: at)
        case 3: if !line.isEmpty { line[at] = Character(pick(characters, &rng)) }
        case 4:
            let other = Int(rng.next() % UInt64(lines.count))
            lines.swapAt(li, other)
            return lines.joined(separator: "\n")
        case 5: line.insert(contentsOf: "99999999999999999999", at: at)
        case 6:
            lines.insert(lines[li], at: li)
            return lines.joined(separator: "\n")
        default:
            // Replace a key's value: the most likely place for a value the reader must range-check.
            let keyed = lines.indices.filter { lines[$0].contains(" = ") && !lines[$0].hasPrefix("#") }
            guard !keyed.isEmpty else { break }
            let timed = keyed.filter { i in ["calendar", "schedule", "retention_window", "timeout", "keep_within"].contains {
                lines[i].hasPrefix($0 + " = ")
            } }
            let pool = !timed.isEmpty && rng.next() % 2 == 0 ? timed : keyed
            let k = pool[Int(rng.next() % UInt64(pool.count))]
            let key = lines[k].components(separatedBy: " = ")[0]
            let bare = key.trimmingCharacters(in: .whitespaces)
            let value: String
            if rng.next() % 4 == 0 {
                value = pick(values, &rng)
            } else if ["calendar", "schedule"].contains(bare) {
                value = "\"" + pick(schedules, &rng) + "\""
            } else if ["retention_window", "timeout", "keep_within"].contains(bare) {
                value = "\"" + pick(durations, &rng) + "\""
            } else {
                value = pick(values, &rng)
            }
            lines[k] = key + " = " + value
            return lines.joined(separator: "\n")
        }
        lines[li] = String(line)
        return lines.joined(separator: "\n")
    }

    static func pick(_ list: [String], _ rng: inout SeededRandom) -> String { list[Int(rng.next() % UInt64(list.count))] }
}
