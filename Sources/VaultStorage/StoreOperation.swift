/// The operations of `BlobStore`, as wrappers count, log, fail or limit them.
public enum StoreOperation: String, CaseIterable, Sendable {
    case save, createIfAbsent, load, loadRange, stat, list, remove, createPending, commit
}
