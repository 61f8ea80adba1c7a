import Foundation
import VaultCore
import VaultCrypto

/// A logged-in browser: the cookie's random id, who it is, and the CSRF token every form of the
/// session carries (checked on every POST).
struct Session: Sendable {
    var id: String
    var user: ConsoleUser
    var csrf: String
    var expires: Timestamp
}

/// Sessions in memory (a restart of the service logs everyone out). Idle sessions expire.
final class SessionStore: @unchecked Sendable {
    // @unchecked: `sessions` is guarded by `mutex`.
    private let mutex = Mutex()
    private var sessions: [String: Session] = [:]
    let clock: VaultClock
    let lifetime: Double

    init(clock: VaultClock, lifetime: Double = 8 * 3600) { self.clock = clock; self.lifetime = lifetime }

    func create(for user: ConsoleUser) -> Session {
        let s = Session(id: randomToken(), user: user, csrf: randomToken(), expires: clock.now().adding(seconds: lifetime))
        mutex.withLock {
            let now = clock.now()
            sessions = sessions.filter { $0.value.expires > now }
            sessions[s.id] = s
        }
        return s
    }

    /// The live session of this cookie value, its lifetime renewed.
    func find(_ id: String?) -> Session? {
        guard let id, !id.isEmpty else { return nil }
        return mutex.withLock {
            guard var s = sessions[id], s.expires > clock.now() else { sessions[id] = nil; return nil }
            s.expires = clock.now().adding(seconds: lifetime)
            sessions[id] = s
            return s
        }
    }

    func remove(_ id: String) { mutex.withLock { sessions[id] = nil } }
}

/// 32 random bytes as URL-safe base64 (no padding).
func randomToken() -> String {
    Data(randomBytes(32)).base64EncodedString().replacingOccurrences(of: "+", with: "-")
        .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
}

/// Compares two secrets in constant time.
func sameSecret(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    guard x.count == y.count else { return false }
    var d: UInt8 = 0
    for (p, q) in zip(x, y) { d |= p ^ q }
    return d == 0
}
