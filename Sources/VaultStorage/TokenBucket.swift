import VaultCore

/// A token bucket: `rate` bytes a second on average, bursts of up to `burst` bytes. A transfer
/// larger than what the bucket holds goes at once and the bucket runs into debt, so the next
/// transfers wait until the average is back at `rate`.
public final class TokenBucket: @unchecked Sendable {
    // @unchecked: `tokens` and `last` are only touched under `lock`.
    public let rate: Double
    public let burst: Double
    private let timer: StoreTimer
    private let lock = Mutex()
    private var tokens: Double
    private var last: Double

    public init(bytesPerSecond: Double, burst: Double? = nil, timer: StoreTimer) {
        rate = max(1, bytesPerSecond)
        self.burst = burst ?? max(rate / 4, 64 * 1024)
        self.timer = timer
        tokens = self.burst
        last = timer.now()
    }

    /// Takes `bytes` tokens, first waiting (through the timer) for any debt to be paid back.
    public func take(_ bytes: Int) {
        let wait: Double = lock.withLock {
            let now = timer.now()
            tokens = min(burst, tokens + (now - last) * rate)
            last = now
            let owed = tokens < 0 ? -tokens / rate : 0
            tokens -= Double(bytes)
            return owed
        }
        if wait > 0 { timer.sleep(seconds: wait) }
    }
}
