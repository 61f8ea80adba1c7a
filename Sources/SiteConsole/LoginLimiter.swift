import VaultCore

/// Slows password guessing: after `allowed` failed logins from one address within `window`
/// seconds, that address is refused until `lockout` seconds after its last failure.
final class LoginLimiter: @unchecked Sendable {
    // @unchecked: `failures` is guarded by `mutex`.
    private let mutex = Mutex()
    private var failures: [String: [Timestamp]] = [:]
    let clock: VaultClock
    let allowed: Int
    let window: Double
    let lockout: Double

    init(clock: VaultClock, allowed: Int = 5, window: Double = 900, lockout: Double = 300) {
        self.clock = clock; self.allowed = allowed; self.window = window; self.lockout = lockout
    }

    /// Seconds the address must still wait, nil when it may try.
    func retryAfter(_ address: String) -> Double? {
        mutex.withLock {
            let now = clock.now()
            let recent = (failures[address] ?? []).filter { now.seconds - $0.seconds < window }
            failures[address] = recent.isEmpty ? nil : recent
            guard recent.count >= allowed, let last = recent.last else { return nil }
            let wait = lockout - (now.seconds - last.seconds)
            return wait > 0 ? wait : nil
        }
    }

    func failed(_ address: String) { mutex.withLock { failures[address, default: []].append(clock.now()) } }

    func succeeded(_ address: String) { mutex.withLock { failures[address] = nil } }
}
