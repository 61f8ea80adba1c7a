#if canImport(Glibc)
import Glibc
#endif
import VaultCore

/// Step 2 of a run: the consistent copies, with the writers frozen around them.
extension SiteBackupTask {
    typealias Stored = [String: (Node?, ComponentReport)]

    /// Makes every consistent copy. Returns the components already stored while frozen
    /// (`copy = "none"`, or a database stream that cannot be staged). Every writer frozen here is
    /// thawed before this returns or throws.
    func takeConsistentCopies(_ backup: ComponentBackup) async throws -> Stored {
        var stored: Stored = [:]
        switch config.consistency {
        case .component: try await writerByWriter(backup, &stored)
        case .site: try await siteWindow(backup, &stored)
        }
        return stored
    }

    /// `consistency = "component"`: each writer frozen only while its own components are copied.
    private func writerByWriter(_ backup: ComponentBackup, _ stored: inout Stored) async throws {
        for w in config.writers {
            for attempt in 1...Self.freezeAttempts {
                let pins = pinDatabases(components(of: w))
                defer { for p in pins.values { p.unpin() } }
                try freeze(w)
                var copyError: Error?
                for c in components(of: w) {
                    do { try await copy(c, under: w, backup, &stored, pins: pins) } catch { copyError = error; break }
                }
                if let f = thaw([w], siteWide: false) { throw f }
                if let busy = copyError as? SQLiteBusy, attempt < Self.freezeAttempts {
                    caughtInTransaction(busy, attempt: attempt)
                    continue
                }
                if let copyError { throw copyFailure(copyError, "consistent copy under writer \(w.name) failed") }
                break
            }
        }
    }

    /// `consistency = "site"`: one window. Every writer freezes (file order), then every copy is
    /// made — staged where it can be, else stored while frozen — and SQLite databases without a
    /// writer are copied inside the window too; then every writer thaws (reverse order), always.
    private func siteWindow(_ backup: ComponentBackup, _ stored: inout Stored) async throws {
        for attempt in 1...Self.freezeAttempts {
            var failure: Error?
            let unfrozenSQLite = config.components.filter {
                config.writer(for: $0.name) == nil && $0.kind == .database && $0.engine == .sqlite
            }
            let pins = pinDatabases(config.writers.flatMap { components(of: $0) } + unfrozenSQLite)
            defer { for p in pins.values { p.unpin() } }
            do {
                for w in config.writers { try freeze(w) }
                for w in config.writers {
                    for c in components(of: w) { try await copy(c, under: w, backup, &stored, pins: pins) }
                }
                for c in unfrozenSQLite { try backup.stage(c, busyWait: Self.frozenBusyWait, pinned: pins[c.name]) }
            } catch { failure = error }
            if let f = thaw(config.writers.reversed(), siteWide: true) { throw f }
            if let busy = failure as? SQLiteBusy, attempt < Self.freezeAttempts {
                caughtInTransaction(busy, attempt: attempt)
                continue
            }
            if let failure { throw copyFailure(failure, "consistent copy inside the site-wide freeze window failed") }
            break
        }
    }

    /// A freeze that caught the application inside a write transaction cannot copy its SQLite
    /// database (the stopped process holds the lock): thawed, it finishes; the freeze is tried again.
    static let freezeAttempts = 3
    static let frozenBusyWait = 2.0

    private func caughtInTransaction(_ busy: SQLiteBusy, attempt: Int) {
        recorder.emit(.writerThawed, "the freeze caught the application inside a write transaction (\(busy.path) locked); "
                      + "thawed to let it finish, freezing again (attempt \(attempt + 1) of \(Self.freezeAttempts))")
        // A little while, and never in step with the application's own rhythm.
        usleep(UInt32.random(in: 100_000...400_000))
    }

    private func components(of w: WriterConfig) -> [ComponentConfig] {
        config.components.filter { w.components.contains($0.name) }
    }

    /// A read transaction on each staged SQLite database of `comps`, taken while the application
    /// still runs: frozen afterwards, it cannot be holding the database's exclusive lock, so the
    /// copy inside the window never waits on it. A database that cannot be pinned now is copied
    /// without (the freeze is then retried if it is found locked).
    private func pinDatabases(_ comps: [ComponentConfig]) -> [String: SQLiteDatabase] {
        var pins: [String: SQLiteDatabase] = [:]
        for c in comps where c.kind == .database && c.engine == .sqlite && (config.writer(for: c.name)?.staging ?? true) {
            guard let path = c.databasePath, let db = try? SQLiteDatabase(path: path, readOnly: true) else { continue }
            if (try? db.pinRead()) != nil { pins[c.name] = db }
        }
        return pins
    }

    private func copy(_ c: ComponentConfig, under w: WriterConfig, _ backup: ComponentBackup,
                      _ stored: inout Stored, pins: [String: SQLiteDatabase] = [:]) async throws {
        if w.staging && ComponentBackup.canStage(c) { try backup.stage(c, busyWait: Self.frozenBusyWait, pinned: pins[c.name]) } else {
            stored[c.name] = await backup.store(c, into: destinations[c.repository]!, writer: w.name)
        }
    }

    private func freeze(_ w: WriterConfig) throws {
        let comps = components(of: w).map(\.name)
        let r: FreezeReport
        do { r = try freezes.freeze(w, components: comps) } catch let e as VaultError {
            throw RunFailure(e.code == .cancelled ? .aborted : .freezeFailed, e.message)
        }
        recorder.emit(.writerFrozen, "writer \(w.name) (\(w.kind.rawValue)) froze \(comps.joined(separator: ", "))",
                      at: r.frozenAt)
    }

    /// Thaws each of `writers` still frozen, in the order given, going on past a failed thaw.
    /// `siteWide`: the last thaw's message also gives the whole window.
    /// Returns the failure to throw when a thaw failed.
    private func thaw(_ writers: [WriterConfig], siteWide: Bool) -> RunFailure? {
        var failed: [String] = []
        for w in writers {
            do {
                guard let t = try freezes.thaw(w.name) else { continue }
                var text = "writer \(w.name) thawed after \(formatSeconds(t.seconds ?? 0)) frozen"
                if siteWide && !freezes.anyFrozen {
                    let all = freezes.freezeReports
                    let first = all.map(\.frozenAt.nanoseconds).min() ?? t.frozenAt.nanoseconds
                    let seconds = Double((t.thawedAt?.nanoseconds ?? first) - first) / 1e9
                    let writers = "\(all.count) writer\(all.count == 1 ? "" : "s")"
                    text += "; site-wide freeze window of \(writers): \(formatSeconds(seconds))"
                }
                recorder.emit(.writerThawed, text, at: t.thawedAt)
            } catch {
                failed.append("writer \(w.name) could not thaw: \((error as? VaultError)?.message ?? "\(error)")")
            }
        }
        guard !failed.isEmpty else { return nil }
        return RunFailure(.thawFailed, "\(failed.joined(separator: "; ")); the application may still be stopped: "
                          + "run `sitevault site thaw --site \(config.file)`")
    }

    private func copyFailure(_ error: Error, _ what: String) -> Error {
        if error is RunFailure { return error }
        return RunFailure(.componentFailed, "\(what): \((error as? VaultError)?.message ?? "\(error)")")
    }
}
