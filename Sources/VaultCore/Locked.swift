/// A value shared between threads, read and changed only under its own lock: what concurrent
/// workers (`DispatchQueue.concurrentPerform`, detached threads) write their results into.
public final class Locked<Value>: @unchecked Sendable {
    // @unchecked: `value` is only touched under `mutex`.
    private let mutex = Mutex()
    private var value: Value

    public init(_ value: Value) { self.value = value }

    /// Reads or changes the value under the lock.
    public func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        try mutex.withLock { try body(&value) }
    }

    /// A copy of the value.
    public var current: Value { mutex.withLock { value } }
}
