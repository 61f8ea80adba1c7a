import VaultCore

/// `sitevault site thaw`: undoes a freeze left by a run that died, without running a backup.
public enum SiteThaw {
    public struct Result: Sendable, Codable {
        public var thawed: [String] = []
        public var failed: [String] = []
    }

    public static func run(config: SiteConfig, options: SiteRunOptions) throws -> Result {
        let lock = try RunLock(stateDir: config.stateDir)
        defer { _ = lock }
        var result = Result()
        let loaded: FreezeRecord?
        do { loaded = try FreezeRecord.load(stateDir: config.stateDir) } catch let e as VaultError {
            throw RunFailure(.thawFailed, e.message)
        }
        guard let record = loaded else { return result }
        let recorder = RunRecorder(site: config.site, runID: "thaw-" + Hex.encode((0..<4).map { _ in UInt8.random(in: 0...255) }),
                                   store: try? StatusStore(stateDir: config.stateDir), clock: options.clock, echo: options.echo,
                                   utc: config.timeZone == .utc)
        var remaining: [WriterConfig] = []
        for w in record.writers.reversed() {
            do {
                try WriterActions.thaw(w)
                result.thawed.append(w.name)
                recorder.emit(.staleFreezeThawed, "writer \(w.name) was left frozen by run \(record.runID) (process \(record.pid)): thawed by `sitevault site thaw`")
            } catch {
                remaining.append(w)
                result.failed.append("\(w.name): \((error as? VaultError)?.message ?? "\(error)")")
                recorder.emit(.staleFreezeThawFailed, "writer \(w.name) left frozen by run \(record.runID) could not be thawed: \((error as? VaultError)?.message ?? "\(error)")")
            }
        }
        if remaining.isEmpty { try FreezeRecord.clear(stateDir: config.stateDir) } else {
            var r = record
            r.writers = remaining.reversed()
            try r.save(stateDir: config.stateDir)
        }
        return result
    }
}
