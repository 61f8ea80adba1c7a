import SiteTOML
import VaultCore

extension ControlFileReader {
    /// `consistency = "component"` (default) or `"site"`. Under `"site"`, a database that can only
    /// be streamed (PostgreSQL, dump command) is dumped inside the one freeze window: a warning at
    /// its `[[component]]` says so, since the window then lasts as long as that dump.
    func readConsistency(_ top: TableReader, into config: inout SiteConfig) {
        guard let n = top.node("consistency") else { return }
        guard let s = n.string, let c = Consistency(rawValue: s) else {
            let got = n.string.map { "\"\($0)\"" } ?? n.typeName
            problems.add(n.position, "consistency must be \"component\" (each writer frozen for its own components) "
                         + "or \"site\" (one freeze window for the whole site), not \(got)")
            return
        }
        config.consistency = c
        guard c == .site else { return }
        let tables = top.tableArray("component")
        for comp in config.components where comp.kind == .database && comp.engine != .sqlite {
            let name = tables.first { $0["name"]?.string == comp.name }?["name"]
            let pos = name?.keyPosition ?? name?.position ?? n.position
            let what = comp.engine == .postgresql ? "a PostgreSQL backup" : "a dump command's output"
            config.warnings.append("\(file):\(pos.line):\(pos.column): component '\(comp.name)' is \(what), which cannot be "
                                   + "staged: under consistency = \"site\" it is streamed inside the freeze window, which then "
                                   + "lasts as long as the dump (at most its timeout, \(DurationText.format(comp.timeout)))")
        }
    }
}
