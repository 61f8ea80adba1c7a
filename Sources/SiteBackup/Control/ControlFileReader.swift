#if canImport(Glibc)
import Glibc
#endif
import SiteTOML
import VaultCore
import VaultFileSystem
import VaultStorage

/// Turns the parsed TOML into a `SiteConfig`, checking types, names, references and paths.
final class ControlFileReader {
    let file: String
    let text: String
    let root: TOMLTable
    let problems: ProblemList
    let checkPaths: Bool
    let baseDir: FilePath
    /// Every path a component backs up, with where it was written (for the "destination inside a
    /// backed-up folder" check).
    var backedUp: [(path: String, component: String, pos: TOMLPosition)] = []

    init(file: String, text: String, root: TOMLTable, problems: ProblemList, checkPaths: Bool) {
        self.file = file; self.text = text; self.root = root; self.problems = problems; self.checkPaths = checkPaths
        var comps = FilePath(file).components
        _ = comps.popLast()
        baseDir = FilePath(comps.isEmpty ? [47] : comps.flatMap { [47] + $0 })
    }

    /// Paths in the control file are absolute, or relative to the folder holding the control file.
    func resolve(_ p: String) -> String {
        p.hasPrefix("/") ? FilePath(p).absolute().description : FilePath(baseDir.bytes + [47] + Array(p.utf8)).absolute().description
    }

    func exists(_ p: String) -> Bool {
        var st = stat()
        return lstat(p, &st) == 0
    }

    func read() -> SiteConfig? {
        let top = TableReader(root, context: "the top level", problems: problems)
        let site = top.string("site", required: "the site's name, e.g. site = \"shop\"")
        if let site, !isValidName(site), let n = root["site"] {
            problems.add(n.position, "site name \"\(site)\" may hold only letters, digits, '.', '_' and '-'")
        }
        var tz: TimeZoneChoice?
        if let n = top.node("time_zone") {
            if let s = n.string, let z = TimeZoneChoice(rawValue: s == "utc" ? "UTC" : s) { tz = z } else {
                problems.add(n.position, "time_zone must be \"UTC\" or \"local\"")
            }
        } else {
            top.missing("time_zone", "say which clock the schedule uses: time_zone = \"UTC\" or \"local\"")
        }
        let stateDir = top.string("state_dir").map(resolve) ?? defaultStateDir(site ?? "site")
        let stagingDir = top.string("staging_dir").map(resolve) ?? stateDir + "/staging"

        var destinations: [String: DestinationConfig] = [:]
        var destPositions: [String: TOMLPosition] = [:]
        if let t = top.subtable("repository") {
            if let d = destination(t, name: "main", context: "[repository]") { destinations["main"] = d; destPositions["main"] = t["path"]?.position ?? t.position }
        } else {
            top.missing("repository", "add a [repository] table with path and password_file")
        }
        if let t = top.subtable("repositories") {
            for (name, n) in t.entries {
                guard let sub = n.table else { problems.add(n.position, "repositories.\(name) must be a table with path and password_file"); continue }
                guard isValidName(name), name != "main" else {
                    problems.add(n.keyPosition ?? n.position, "repository name '\(name)' is not allowed (letters, digits, '.', '_', '-'; 'main' is [repository])"); continue
                }
                if let d = destination(sub, name: name, context: "[repositories.\(name)]") { destinations[name] = d; destPositions[name] = sub["path"]?.position ?? sub.position }
            }
        }

        var config = SiteConfig(file: file, text: text, site: site ?? "", timeZone: tz ?? .utc, stateDir: stateDir,
                                stagingDir: stagingDir, destinations: destinations)
        if let t = top.subtable("schedule") { readSchedule(t, into: &config) }
        if let t = top.subtable("retention") { config.retention = readRetention(t) }
        for t in top.tableArray("copy") {
            guard let c = readCopy(t, destinations: destinations) else { continue }
            if let first = config.copies.first(where: { $0.repository == c.repository }) {
                problems.add(t.position(of: "repository"), "repository '\(c.repository)' is already a copy target (line \(first.line))")
                continue
            }
            config.copies.append(c)
        }
        var seen: [String: Int] = [:]
        for t in top.tableArray("component") {
            guard let c = readComponent(t, destinations: destinations) else { continue }
            if let first = seen[c.name] {
                problems.add(t.position(of: "name"), "duplicate component '\(c.name)' (first defined at line \(first))")
                continue
            }
            seen[c.name] = c.line
            config.components.append(c)
        }
        if top.has("component") == false { top.missing("component", "a site needs at least one [[component]]") }
        var writerSeen: [String: Int] = [:]
        var owner: [String: String] = [:]
        for t in top.tableArray("writer") {
            guard let w = readWriter(t) else { continue }
            if let first = writerSeen[w.name] {
                problems.add(t.position(of: "name"), "duplicate writer '\(w.name)' (first defined at line \(first))"); continue
            }
            writerSeen[w.name] = w.line
            let list = t["components"]?.array ?? []
            for (i, c) in w.components.enumerated() {
                let pos = i < list.count ? list[i].position : t.position
                if seen[c] == nil {
                    problems.add(pos, "writer '\(w.name)' names component '\(c)', which does not exist (components: \(config.components.map(\.name).joined(separator: ", ")))")
                } else if let other = owner[c] {
                    problems.add(pos, "component '\(c)' already has writer '\(other)': a component has at most one writer")
                } else { owner[c] = w.name }
            }
            config.writers.append(w)
        }
        config.atomic = top.bool("atomic") ?? false
        readConsistency(top, into: &config)
        if let t = top.subtable("hooks") { config.hooks = readHooks(t) }
        if let t = top.subtable("alerts") { config.alerts = readAlerts(t) }
        if let t = top.subtable("drill") { config.drill = readDrill(t) }
        if let t = top.subtable("recovery") { config.recovery = readRecovery(t) }
        top.finish()

        // Nothing sitevault writes may lie inside what it backs up.
        var written: [(String, String, TOMLPosition)] = destinations.map { ("repository", $0.value.path, destPositions[$0.key] ?? TOMLPosition(line: 1, column: 1)) }
        written.append(("state_dir", stateDir, root["state_dir"]?.position ?? TOMLPosition(line: 1, column: 1)))
        written.append(("staging_dir", stagingDir, root["staging_dir"]?.position ?? root["state_dir"]?.position ?? TOMLPosition(line: 1, column: 1)))
        if let sb = config.drill.sandbox { written.append(("drill sandbox", sb, root["drill"]?.table?["sandbox"]?.position ?? TOMLPosition(line: 1, column: 1))) }
        for (what, path, pos) in written {
            for b in backedUp where isInside(path, b.path) {
                problems.add(pos, "\(what) \(path) is inside \(b.path), which component '\(b.component)' backs up: the backup would contain itself; move it elsewhere")
            }
        }
        return site != nil && tz != nil && destinations["main"] != nil ? config : nil
    }

    func isInside(_ p: String, _ dir: String) -> Bool {
        p == dir || dir == "/" || p.hasPrefix(dir.hasSuffix("/") ? dir : dir + "/")
    }

    func defaultStateDir(_ site: String) -> String {
        if geteuid() == 0 { return "/var/lib/sitevault/\(site)" }
        if let x = getenv("XDG_STATE_HOME"), x.pointee != 0 { return String(cString: x) + "/sitevault/\(site)" }
        let home = getenv("HOME").map { String(cString: $0) } ?? "/tmp"
        return home + "/.local/state/sitevault/\(site)"
    }

    func destination(_ t: TOMLTable, name: String, context: String) -> DestinationConfig? {
        let r = TableReader(t, context: context, problems: problems)
        let path = r.string("path", required: "the repository folder (create it with `sitevault init`)")
        let pw = r.string("password_file", required: "a file holding the repository password (mode 0600)")
        let sftpCommand = r.string("sftp_command")
        let s3Keys = r.string("s3_credentials_file")
        let s3Style = r.string("s3_url_style")
        r.finish()
        if let s3Style, s3Style != "path" && s3Style != "virtual", let n = t["s3_url_style"] {
            problems.add(n.position, "s3_url_style must be \"path\" or \"virtual\", not \"\(s3Style)\"")
        }
        if let sftpCommand, let n = t["sftp_command"] {
            do { _ = try SSHCommand.parse(sftpCommand) } catch let e as VaultError { problems.add(n.position, e.message) } catch {}
        }
        if let pw, let n = t["password_file"] { checkPasswordFile(resolve(pw), at: n.position) }
        if let s3Keys, let n = t["s3_credentials_file"] { checkPasswordFile(resolve(s3Keys), at: n.position, what: "S3 credentials file") }
        guard let path, let pw else { return nil }
        // A folder is resolved against the control file's folder; another kind of location stays as written.
        let location: String
        do {
            switch try StoreLocation.parse(path) {
            case .local(let folder): location = resolve(folder)
            default: location = path
            }
        } catch let e as VaultError {
            if let n = t["path"] { problems.add(n.position, e.message) }
            return nil
        } catch { return nil }
        return DestinationConfig(name: name, path: location, passwordFile: resolve(pw), sftpCommand: sftpCommand, s3CredentialsFile: s3Keys.map(resolve),
                                 s3URLStyle: s3Style)
    }

    /// A password file must exist on this machine and must not be readable by other users.
    func checkPasswordFile(_ path: String, at pos: TOMLPosition, what: String = "password file") {
        guard checkPaths else { return }
        if !exists(path) { return problems.add(pos, "\(what) \(path) does not exist") }
        if let why = secretFileExposure(path) {
            let secret = what == "password file" ? "the password" : "the keys"
            problems.add(pos, "\(what) \(path) is \(why): anyone on this machine can read \(secret); chmod 600 \(path)")
        }
    }

    func readSchedule(_ t: TOMLTable, into config: inout SiteConfig) {
        let r = TableReader(t, context: "[schedule]", problems: problems)
        if let w = r.duration("retention_window") { config.schedule.retentionWindow = w }
        if let n = r.node("sparse") {
            switch n.string {
            case "refuse": config.schedule.refuseSparse = true
            case "warn": config.schedule.refuseSparse = false
            default: problems.add(n.position, "sparse must be \"refuse\" or \"warn\"")
            }
        }
        if let s = r.string("calendar"), let n = t["calendar"] {
            switch Schedule.parse(s) {
            case .success(let sched):
                config.schedule.calendar = sched
                let gap = sched.maximumGap, window = config.schedule.retentionWindow
                if gap > window {
                    let msg = "schedule \"\(s)\" leaves up to \(DurationText.format(gap)) between runs, more than the retention window of \(DurationText.format(window)): changes older than the window could be lost; run more often or raise retention_window"
                    if config.schedule.refuseSparse { problems.add(n.position, msg) } else { config.warnings.append("\(file):\(n.position.line):\(n.position.column): \(msg)") }
                }
            case .failure(let e): problems.add(n.position, "calendar: \(e.message)")
            }
        }
        r.finish()
    }

    /// The most snapshots one retention rule may keep (more is surely a typo).
    let maxKeep: Int64 = 1_000_000

    func readRetention(_ t: TOMLTable) -> RetentionConfig {
        let r = TableReader(t, context: "[retention]", problems: problems)
        let p = readRetentionKeys(r)
        r.finish()
        return p
    }

    /// `[[copy]]`: a `[repositories.NAME]` the site's snapshots are copied to, with its own `keep_*` keys.
    func readCopy(_ t: TOMLTable, destinations: [String: DestinationConfig]) -> CopyTargetConfig? {
        let r = TableReader(t, context: "[[copy]] at line \(t.position.line)", problems: problems)
        let name = r.string("repository", required: "the [repositories.NAME] the snapshots are copied to")
        let retention = readRetentionKeys(r)
        r.finish()
        guard let name else { return nil }
        guard name != "main", destinations[name] != nil else {
            problems.add(t.position(of: "repository"), name == "main"
                ? "a copy target cannot be the main repository: name a [repositories.NAME] elsewhere"
                : "copy target \"\(name)\" is not defined: add [repositories.\(name)] with path and password_file")
            return nil
        }
        return CopyTargetConfig(repository: name, retention: retention, line: t.position.line)
    }

    func readRetentionKeys(_ r: TableReader) -> RetentionConfig {
        var p = RetentionConfig()
        p.keepLast = r.integer("keep_last", max: maxKeep) ?? 0
        p.keepHourly = r.integer("keep_hourly", max: maxKeep) ?? 0
        p.keepDaily = r.integer("keep_daily", max: maxKeep) ?? 0
        p.keepWeekly = r.integer("keep_weekly", max: maxKeep) ?? 0
        p.keepMonthly = r.integer("keep_monthly", max: maxKeep) ?? 0
        p.keepYearly = r.integer("keep_yearly", max: maxKeep) ?? 0
        p.keepWithin = r.duration("keep_within") ?? 0
        return p
    }

    func readComponent(_ t: TOMLTable, destinations: [String: DestinationConfig]) -> ComponentConfig? {
        let label = t["name"]?.string.map { "[[component]] '\($0)'" } ?? "[[component]] at line \(t.position.line)"
        let r = TableReader(t, context: label, problems: problems)
        let name = r.string("name", required: "each component needs a name")
        if let name, !isValidName(name) {
            problems.add(t.position(of: "name"), "component name \"\(name)\" may hold only letters, digits, '.', '_' and '-' (and not start with '.', '_' or '-')")
        }
        var kind: ComponentKind?
        if let n = r.node("kind") {
            if let s = n.string, let k = ComponentKind(rawValue: s) { kind = k } else {
                problems.add(n.position, "kind must be one of database, config, folders, install-media (in \(label))")
            }
        } else { r.missing("kind", "one of database, config, folders, install-media") }
        guard let name, let kind else { r.finish(allowed: Set(t.keys)); return nil }
        var c = ComponentConfig(name: name, kind: kind)
        c.line = t.position.line
        if let n = r.node("repository") {
            if let s = n.string, destinations[s] != nil || s == "main" { c.repository = s } else {
                problems.add(n.position, "repository \"\(n.string ?? n.typeName)\" is not defined: use \"main\" or a name from [repositories.NAME]")
            }
        }
        if let d = r.duration("timeout") { c.timeout = d }
        func readPaths(required: Bool) {
            guard let list = r.stringList("paths", required: required ? "the files and folders this component holds" : nil) else { return }
            for (p, pos) in list {
                let abs = resolve(p)
                if checkPaths && !exists(abs) { problems.add(pos, "path \(abs) does not exist (component '\(name)')") }
                backedUp.append((abs, name, pos))
                c.paths.append(abs)
            }
            for key in ["exclude", "include"] {
                let list = r.stringList(key) ?? []
                for (p, pos) in list where p.contains("/") && !p.hasPrefix("/") {
                    problems.add(pos, "\(key) pattern \"\(p)\" contains '/' so it matches whole paths: write it as an absolute path (e.g. \"\(resolve(p))\"), or without '/' to match a name anywhere")
                }
                if key == "exclude" { c.excludes = list.map(\.0) } else { c.includes = list.map(\.0) }
            }
        }
        let pgKeys = ["host", "port", "user", "password_file", "databases", "sslmode", "method", "jobs", "verify", "verify_sql", "verify_database", "bin_dir"]
        let dbKeys = ["engine", "path", "check", "dump_command", "restore_command", "file_name"] + pgKeys
        switch kind {
        case .database:
            r.refuse(["paths", "exclude", "include", "settings", "version", "version_command"], reason: "to a database component")
            if let n = r.node("engine") {
                if let s = n.string, let e = DatabaseEngine(rawValue: s) { c.engine = e } else {
                    problems.add(n.position, "engine must be \"sqlite\", \"postgresql\" or \"command\" (in \(label))")
                }
            } else { r.missing("engine", "\"sqlite\", \"postgresql\" or \"command\"") }
            if c.engine != .postgresql { r.refuse(pgKeys, reason: "to a database whose engine is not postgresql") }
            if c.engine == .postgresql {
                r.refuse(["path", "check", "dump_command", "restore_command", "file_name"], reason: "to a postgresql database")
                c.postgres = readPostgres(r, t, label: label)
            } else if c.engine == .sqlite {
                r.refuse(["dump_command", "restore_command", "file_name"], reason: "to an sqlite database (it is copied with SQLite's online backup)")
                if let p = r.string("path", required: "the SQLite database file"), let n = t["path"] {
                    let abs = resolve(p)
                    if checkPaths && !exists(abs) { problems.add(n.position, "database \(abs) does not exist (component '\(name)')") }
                    c.databasePath = abs
                    backedUp.append((abs, name, n.position))
                }
                if let n = r.node("check") {
                    if let s = n.string, ["integrity", "quick", "none"].contains(s) { c.check = s } else {
                        problems.add(n.position, "check must be \"integrity\", \"quick\" or \"none\"")
                    }
                }
            } else if c.engine == .command {
                r.refuse(["path", "check"], reason: "to a command database (it is read from the dump command's output)")
                c.dumpCommand = r.command("dump_command", required: "the command that writes the dump to its standard output")
                c.restoreCommand = r.command("restore_command")
                if let f = r.string("file_name") {
                    if f.contains("/") || f.hasPrefix(".") { problems.add(t.position(of: "file_name"), "file_name must be a plain file name") } else { c.fileName = f }
                }
            }
        case .config:
            r.refuse(dbKeys + ["version", "version_command"], reason: "to a config component")
            readPaths(required: !t.keys.contains("settings"))
            if let n = r.node("settings") {
                if let st = n.table {
                    for (k, v) in st.entries {
                        guard isValidName(k) else { problems.add(v.keyPosition ?? v.position, "setting name '\(k)' may hold only letters, digits, '.', '_' and '-'"); continue }
                        guard let arr = v.array, !arr.isEmpty, arr.allSatisfy({ $0.string != nil }) else {
                            problems.add(v.position, "setting '\(k)' must be a command as a list of strings, e.g. [\"dpkg\", \"-l\", \"app\"]"); continue
                        }
                        c.settings.append((k, arr.compactMap(\.string)))
                    }
                } else { problems.add(n.position, "settings must be a table of commands, e.g. settings = { version = [\"app\", \"--version\"] }") }
            }
        case .folders:
            r.refuse(dbKeys + ["settings", "version", "version_command"], reason: "to a folders component")
            readPaths(required: true)
        case .installMedia:
            r.refuse(dbKeys + ["settings"], reason: "to an install-media component")
            readPaths(required: true)
            c.version = r.string("version")
            c.versionCommand = r.command("version_command")
            if c.version == nil && c.versionCommand == nil {
                r.missing("version", "install media records the version it installs: give version = \"1.2.3\" or version_command = [...]")
            }
        }
        r.finish()
        return c
    }

    func readPostgres(_ r: TableReader, _ t: TOMLTable, label: String) -> PostgresSettings {
        var p = PostgresSettings()
        if let h = r.string("host") { p.host = h.hasPrefix("/") || !h.contains("/") ? h : resolve(h) }
        if let port = r.integer("port", min: 1, max: 65535) { p.port = port }
        if let u = r.string("user") { p.user = u }
        if let f = r.string("password_file"), let n = t["password_file"] {
            p.passwordFile = resolve(f)
            checkPasswordFile(resolve(f), at: n.position)
        }
        if let n = r.node("method") {
            if let s = n.string, let m = PostgresSettings.Method(rawValue: s) { p.method = m } else {
                problems.add(n.position, "method must be \"logical\" (pg_dump per database) or \"physical\" (pg_basebackup of the whole cluster)")
            }
        }
        if let n = r.node("databases") {
            if n.string == "all" { p.databases = nil } else if let arr = n.array, !arr.isEmpty, arr.allSatisfy({ !($0.string ?? "").isEmpty }) {
                let names = arr.map { ($0.string ?? "", $0.position) }
                p.databases = names.map(\.0)
                var seen = Set<String>()
                for (name, pos) in names where !seen.insert(name).inserted { problems.add(pos, "database \(name) is listed twice") }
                for (name, pos) in names where PostgresClient.refusal(ofDatabase: name) != nil {
                    problems.add(pos, "database name \"\(name)\" holds '=' or starts with postgresql://: PostgreSQL's programs "
                                 + "would read it as connection settings, so sitevault refuses it; rename the database (ALTER DATABASE … RENAME TO …)")
                }
            } else {
                problems.add(n.position, "databases must be \"all\" or a list of database names, e.g. [\"shop\", \"reporting\"]")
            }
        } else if p.method == .logical { r.missing("databases", "the databases to back up: a list of names, or \"all\"") }
        if let s = r.string("sslmode") {
            if ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"].contains(s) { p.sslmode = s } else {
                problems.add(t.position(of: "sslmode"), "sslmode must be one of disable, allow, prefer, require, verify-ca, verify-full")
            }
        }
        if let j = r.integer("jobs", min: 1, max: 256) { p.jobs = j }
        if let n = r.node("verify") {
            if let s = n.string, let v = PostgresSettings.Verify(rawValue: s) { p.verify = v } else {
                problems.add(n.position, "verify must be \"none\", \"list\" (pg_restore --list) or \"restore\" (into a scratch database)")
            }
        }
        p.verifySQL = r.string("verify_sql")
        if let d = r.string("verify_database") { p.verifyDatabase = d }
        if p.verify == .restore && p.method == .physical, let n = t["verify"] {
            problems.add(n.position, "verify = \"restore\" applies to logical dumps; a physical backup is verified by its archive listing")
        }
        if p.method == .physical, t["databases"]?.string != "all", let n = t["databases"] {
            problems.add(n.position, "a physical backup copies the whole cluster: set databases = \"all\"")
        }
        if let b = r.string("bin_dir") { p.binDir = resolve(b) }
        return p
    }

    func readWriter(_ t: TOMLTable) -> WriterConfig? {
        let label = t["name"]?.string.map { "[[writer]] '\($0)'" } ?? "[[writer]] at line \(t.position.line)"
        let r = TableReader(t, context: label, problems: problems)
        let name = r.string("name", required: "each writer needs a name")
        if let name, !isValidName(name) { problems.add(t.position(of: "name"), "writer name \"\(name)\" may hold only letters, digits, '.', '_' and '-'") }
        var kind: WriterKind?
        if let n = r.node("kind") {
            if let s = n.string, let k = WriterKind(rawValue: s) { kind = k } else {
                problems.add(n.position, "kind must be one of service, signal, command, fsfreeze (in \(label))")
            }
        } else { r.missing("kind", "one of service, signal, command, fsfreeze") }
        let comps = r.stringList("components", required: "the components this writer freezes")?.map(\.0) ?? []
        guard let name, let kind else { r.finish(allowed: Set(t.keys)); return nil }
        var w = WriterConfig(name: name, kind: kind, components: comps)
        w.line = t.position.line
        if let d = r.duration("timeout") { w.timeout = d }
        if let n = r.node("copy") {
            switch n.string {
            case "staging": w.staging = true
            case "none": w.staging = false
            default: problems.add(n.position, "copy must be \"staging\" (copy while frozen, then thaw) or \"none\" (stay frozen while storing)")
            }
        }
        switch kind {
        case .service:
            r.refuse(["pid_file", "freeze_signal", "thaw_signal", "freeze", "thaw", "mount"], reason: "to a service writer")
            w.unit = r.string("unit")
            w.stop = r.command("stop"); w.start = r.command("start")
            if w.unit == nil && (w.stop == nil || w.start == nil) {
                r.missing("unit", "a service writer needs unit = \"app.service\" (systemctl stop/start) or both stop = [...] and start = [...]")
            }
        case .signal:
            r.refuse(["unit", "stop", "freeze", "thaw", "mount"], reason: "to a signal writer")
            w.start = r.command("start")
            if let p = r.string("pid_file", required: "the file holding the pid of the process to signal") { w.pidFile = resolve(p) }
            for (key, def) in [("freeze_signal", SIGSTOP_VALUE), ("thaw_signal", SIGCONT_VALUE)] {
                var v = def
                if let n = r.node(key) {
                    if let s = n.string, let sig = signalNumber(s) { v = sig } else { problems.add(n.position, "\(key) must be a signal name such as \"STOP\", \"CONT\" or \"USR1\"") }
                }
                if key == "freeze_signal" { w.freezeSignal = v } else { w.thawSignal = v }
            }
        case .command:
            r.refuse(["unit", "stop", "pid_file", "freeze_signal", "thaw_signal", "mount"], reason: "to a command writer")
            w.start = r.command("start")
            w.freeze = r.command("freeze", required: "the command that puts the application in a consistent state")
            w.thaw = r.command("thaw", required: "the command that brings it back")
        case .fsfreeze:
            r.refuse(["unit", "stop", "start", "pid_file", "freeze_signal", "thaw_signal", "freeze", "thaw"], reason: "to an fsfreeze writer")
            if let m = r.string("mount", required: "the mount point to freeze") { w.mount = resolve(m) }
        }
        r.finish()
        return w
    }

    func readHooks(_ t: TOMLTable) -> HookConfig {
        let r = TableReader(t, context: "[hooks]", problems: problems)
        var h = HookConfig()
        h.afterBackup = r.string("after_backup").map(resolve)
        if let d = r.duration("timeout") { h.timeout = d }
        r.finish()
        return h
    }

    func readDrill(_ t: TOMLTable) -> DrillConfig {
        let r = TableReader(t, context: "[drill]", problems: problems)
        var d = DrillConfig()
        if let s = r.string("schedule"), let n = t["schedule"] {
            switch Schedule.parse(s) {
            case .success(let sched): d.schedule = sched
            case .failure(let e): problems.add(n.position, "schedule: \(e.message)")
            }
        }
        d.sandbox = r.string("sandbox").map(resolve)
        d.command = r.command("command")
        if let x = r.duration("timeout") { d.timeout = x }
        d.start = r.command("start")
        d.stop = r.command("stop")
        d.probe = r.command("probe")
        if let x = r.duration("probe_timeout") { d.probeTimeout = x }
        if d.stop != nil && d.start == nil { problems.add(t.position(of: "stop"), "stop needs start (in [drill])") }
        r.finish()
        return d
    }

    func readRecovery(_ t: TOMLTable) -> RecoveryConfig {
        let r = TableReader(t, context: "[recovery]", problems: problems)
        var c = RecoveryConfig()
        c.probe = r.command("probe")
        if let d = r.duration("probe_timeout") { c.probeTimeout = d }
        r.finish()
        return c
    }

    func readAlerts(_ t: TOMLTable) -> AlertConfig {
        let r = TableReader(t, context: "[alerts]", problems: problems)
        var a = AlertConfig()
        a.command = r.command("command")
        if let u = r.string("webhook") {
            if u.hasPrefix("http://") || u.hasPrefix("https://") { a.webhook = u } else {
                problems.add(t.position(of: "webhook"), "webhook must be an http:// or https:// URL")
            }
        }
        if let f = r.string("webhook_format") {
            if let format = AlertConfig.WebhookFormat(rawValue: f) { a.webhookFormat = format } else {
                problems.add(t.position(of: "webhook_format"),
                             "webhook_format must be \"json\" (sitevault's body) or \"slack\" (Slack, Mattermost, Rocket.Chat), not \"\(f)\"")
            }
        }
        for (address, pos) in r.stringList("email") ?? [] {
            if let why = MailAddress.problem(address) { problems.add(pos, "email: \(why) (in [alerts])") } else { a.email.append(address) }
        }
        if let from = r.string("email_from") {
            if let why = MailAddress.problem(from) { problems.add(t.position(of: "email_from"), "email_from: \(why) (in [alerts])") } else {
                a.emailFrom = from
            }
        }
        if let path = r.string("sendmail") {
            if path.hasPrefix("/") { a.sendmail = path } else {
                problems.add(t.position(of: "sendmail"), "sendmail must be an absolute path, e.g. \"/usr/sbin/sendmail\" (in [alerts])")
            }
        }
        if r.has("email_from") && a.email.isEmpty && !r.has("email") {
            problems.add(t.position(of: "email_from"), "email_from is set but email is not: add email = [\"ops@example.com\"] (in [alerts])")
        }
        a.onSuccess = r.bool("on_success") ?? false
        if let d = r.duration("timeout") { a.timeout = d }
        r.finish()
        return a
    }
}
