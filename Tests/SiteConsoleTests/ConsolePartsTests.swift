import Testing
import VaultCore
@testable import SiteConsole

/// A clock the test moves by hand.
final class ManualClock: VaultClock, @unchecked Sendable {
    // @unchecked: `t` is guarded by `mutex`.
    private let mutex = Mutex()
    private var t = Timestamp(seconds: 1_800_000_000)
    func now() -> Timestamp { mutex.withLock { t } }
    func advance(_ seconds: Double) { mutex.withLock { t = t.adding(seconds: seconds) } }
}

@Suite struct ConsolePartsTests {
    @Test func htmlEscapesMarkupQuotesAndControlCharacters() {
        #expect(HTML.escape("<script>alert('x') & \"y\"</script>") == "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;")
        #expect(HTML.escape("a\u{1b}[31mred") == "a\\x1b[31mred")
        #expect(HTML.escape("line\nnext") == "line\nnext")
        #expect(HTML.urlComponent("a b/ü?") == "a%20b%2F%C3%BC%3F")
    }

    @Test func metricsTextEscapesLabelsAndFormatsNumbers() {
        var m = MetricsText()
        m.gauge("sitevault_x", "help", [([("site", "a\"b\\c\nd")], 1.5), ([("site", "plain")], 3)])
        m.gauge("sitevault_empty", "no samples, no family", [])
        #expect(m.text == "# HELP sitevault_x help\n# TYPE sitevault_x gauge\nsitevault_x{site=\"a\\\"b\\\\c\\nd\"} 1.500000\nsitevault_x{site=\"plain\"} 3\n")
        #expect(MetricsText.number(.nan) == "NaN")
        #expect(MetricsText.number(-.infinity) == "-Inf")
        #expect(MetricsText.number(1_796_204_558) == "1796204558")
    }

    @Test func formDataDecodesPlusAndPercent() {
        let f = FormData("user=ad+min&password=p%26w%3Dd&empty=&=skipped&csrf=abc")
        #expect(f["user"] == "ad min")
        #expect(f["password"] == "p&w=d")
        #expect(f["empty"] == "")
        #expect(f["csrf"] == "abc")
        #expect(f[""] == nil)
    }

    @Test func listenAddresses() throws {
        #expect(try ConsoleSettings.parseListen("127.0.0.1:8080") == ("127.0.0.1", 8080))
        #expect(try ConsoleSettings.parseListen("[::1]:9000") == ("::1", 9000))
        #expect(try ConsoleSettings.parseListen("8081") == ("127.0.0.1", 8081))
        #expect(throws: VaultError.self) { try ConsoleSettings.parseListen("127.0.0.1:http") }
        #expect(throws: VaultError.self) { try ConsoleSettings.parseListen("127.0.0.1:70000") }
        var s = ConsoleSettings(stateDir: "/x")
        #expect(s.plainTextWarning == nil, "loopback over plain HTTP: no warning")
        s.host = "0.0.0.0"
        #expect(!s.isLoopback)
        #expect(s.plainTextWarning?.contains("0.0.0.0, reachable from other machines, without TLS") == true)
        #expect(!s.secureCookies)
    }

    @Test func loginLimiterRefusesAfterFiveFailuresUntilTheLockoutEnds() {
        let clock = ManualClock()
        let l = LoginLimiter(clock: clock, allowed: 5, window: 900, lockout: 300)
        for _ in 0..<4 { l.failed("10.0.0.1") }
        #expect(l.retryAfter("10.0.0.1") == nil)
        l.failed("10.0.0.1")
        #expect(l.retryAfter("10.0.0.1") == 300)
        #expect(l.retryAfter("10.0.0.2") == nil, "other addresses are not affected")
        clock.advance(299)
        #expect(l.retryAfter("10.0.0.1") == 1)
        clock.advance(2)
        #expect(l.retryAfter("10.0.0.1") == nil)
        l.succeeded("10.0.0.1")
        l.failed("10.0.0.1")
        #expect(l.retryAfter("10.0.0.1") == nil, "a success forgets the failures")
    }

    @Test func sessionsExpireWhenIdleAndTokensCompareExactly() {
        let clock = ManualClock()
        let store = SessionStore(clock: clock, lifetime: 100)
        let user = ConsoleUser(name: "a", role: .admin, kdf: .insecureForTests(), hash: "")
        let s = store.create(for: user)
        #expect(s.id != s.csrf && s.id.count >= 43)
        clock.advance(90)
        #expect(store.find(s.id)?.user.name == "a", "used: lifetime renewed")
        clock.advance(90)
        #expect(store.find(s.id) != nil)
        clock.advance(101)
        #expect(store.find(s.id) == nil, "idle too long")
        #expect(store.find(nil) == nil && store.find("") == nil)
        #expect(sameSecret("abc", "abc") && !sameSecret("abc", "abd") && !sameSecret("abc", "abcd"))
    }

    @Test func usersFileStoresOnlyAHashAndVerifies() throws {
        var users = ConsoleUsers()
        try users.set(name: "admin", password: Array("right-password".utf8), role: .admin, kdf: .insecureForTests())
        #expect(!users.users[0].hash.contains("right-password"))
        #expect(users.verify(name: "admin", password: Array("right-password".utf8))?.role == .admin)
        #expect(users.verify(name: "admin", password: Array("wrong-password".utf8)) == nil)
        #expect(users.verify(name: "nobody", password: Array("right-password".utf8)) == nil)
    }
}
