/// The order in which a recovery works through a site's components, computed from the components
/// themselves: a physical PostgreSQL cluster first (the logical dumps of the site need a running
/// server), then files and SQLite copies with outer paths before the paths inside them (an
/// application's data folder before the database it holds), then logical PostgreSQL dumps, then
/// dump-command databases.
enum RecoveryOrder {
    static func rank(_ r: ComponentReport) -> Int {
        switch r.engine {
        case "postgresql": return r.cluster != nil ? 0 : 2
        case "command": return 3
        default: return 1
        }
    }

    /// Depth of a component's shallowest path (0 when it has none).
    static func depth(_ r: ComponentReport) -> Int {
        r.paths.map { $0.split(separator: "/").count }.min() ?? 0
    }

    static func sorted(_ items: [SiteRecovery.Item]) -> [SiteRecovery.Item] {
        items.enumerated().sorted { a, b in
            let ka = (rank(a.element.report), rank(a.element.report) == 1 ? depth(a.element.report) : 0, a.offset)
            let kb = (rank(b.element.report), rank(b.element.report) == 1 ? depth(b.element.report) : 0, b.offset)
            return ka < kb
        }.map(\.element)
    }
}
