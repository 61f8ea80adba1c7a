import VaultCore

/// How a store error should be handled: see the contract on `BlobStore`.
public enum StoreErrorClass: String, Sendable {
    /// The file (or location) does not exist; repeating will not create it.
    case notFound
    /// Repeating the same call will fail the same way (no space, permissions, corrupt data, bad argument).
    case permanent
    /// The call may succeed if repeated (timeout, 5xx, connection reset); `RetryingStore` repeats it.
    case transient

    /// The class of any error thrown by a store. Errors that are not `VaultError`s are permanent.
    public static func of(_ error: Error) -> StoreErrorClass {
        guard let e = error as? VaultError else { return .permanent }
        switch e.code {
        case .notFound: return .notFound
        case .transient: return .transient
        default: return .permanent
        }
    }
}
