import VaultCore

/// What a drill's recovery creates outside its sandbox folder: scratch databases (one per dump,
/// named PREFIX + a counter: never a name that could exist in production) and temporary
/// clusters. Dropped and stopped by the drill's cleanup, whatever happened.
final class DrillScratch: @unchecked Sendable {
    // @unchecked: every field is guarded by `mutex`.
    private let mutex = Mutex()
    private var names: [String: String] = [:]
    private var order: [String] = []
    private var clusters: [TemporaryCluster] = []
    private var drops: [() -> Void] = []

    /// The scratch name of `original` (the same one each time it is asked).
    func name(for original: String, prefix: String) -> String {
        mutex.withLock {
            if let n = names[original] { return n }
            let n = prefix + String(names.count)
            names[original] = n; order.append(original)
            return n
        }
    }

    /// Original database name → scratch name, in the order they were made.
    var databases: [(original: String, scratch: String)] { mutex.withLock { order.map { ($0, names[$0]!) } } }

    func onCleanup(_ drop: @escaping () -> Void) { mutex.withLock { drops.append(drop) } }

    func add(_ cluster: TemporaryCluster) { mutex.withLock { clusters.append(cluster) } }

    var runningClusters: [TemporaryCluster] { mutex.withLock { clusters } }

    /// Drops the scratch databases and stops the clusters (each once).
    func cleanUp() {
        let (d, c) = mutex.withLock { () -> ([() -> Void], [TemporaryCluster]) in
            defer { drops = []; clusters = [] }
            return (drops, clusters)
        }
        for drop in d.reversed() { drop() }
        for cluster in c.reversed() { cluster.stop() }
    }
}
