import SiteTOML

/// Collects the problems found while reading a control file.
final class ProblemList {
    let file: String
    var problems: [ControlFileProblem] = []
    init(file: String) { self.file = file }

    func add(_ pos: TOMLPosition, _ message: String) {
        problems.append(ControlFileProblem(file: file, line: pos.line, column: pos.column, message: message))
    }
}

/// Reads the keys of one TOML table with their expected types, reporting wrong types at the value
/// and, at the end, every key nobody asked for as unknown (at the key).
final class TableReader {
    let table: TOMLTable
    let context: String
    let problems: ProblemList
    private(set) var used: Set<String> = []

    init(_ table: TOMLTable, context: String, problems: ProblemList) {
        self.table = table; self.context = context; self.problems = problems
    }

    func node(_ key: String) -> TOMLNode? {
        used.insert(key)
        return table[key]
    }

    func has(_ key: String) -> Bool { table[key] != nil }

    private func wrongType(_ key: String, _ n: TOMLNode, _ expected: String) {
        problems.add(n.position, "\(key) must be \(expected), not \(n.typeName) (in \(context))")
    }

    func missing(_ key: String, _ what: String) {
        problems.add(table.position, "missing key '\(key)' in \(context): \(what)")
    }

    func string(_ key: String, required what: String? = nil) -> String? {
        guard let n = node(key) else { if let what { missing(key, what) }; return nil }
        guard let s = n.string else { wrongType(key, n, "a string"); return nil }
        if s.isEmpty { problems.add(n.position, "\(key) must not be empty (in \(context))"); return nil }
        return s
    }

    func bool(_ key: String) -> Bool? {
        guard let n = node(key) else { return nil }
        guard let b = n.bool else { wrongType(key, n, "true or false"); return nil }
        return b
    }

    func integer(_ key: String, min: Int64 = 0, max: Int64) -> Int? {
        guard let n = node(key) else { return nil }
        guard let i = n.integer else { wrongType(key, n, "an integer"); return nil }
        guard i >= min && i <= max else { problems.add(n.position, "\(key) must be between \(min) and \(max) (in \(context))"); return nil }
        return Int(i)
    }

    /// A list of strings; each element's position is returned for later checks (e.g. a path that does not exist).
    func stringList(_ key: String, required what: String? = nil) -> [(String, TOMLPosition)]? {
        guard let n = node(key) else { if let what { missing(key, what) }; return nil }
        guard let arr = n.array else { wrongType(key, n, "a list of strings"); return nil }
        var out: [(String, TOMLPosition)] = []
        for e in arr {
            guard let s = e.string else { problems.add(e.position, "\(key) must hold strings only, not \(e.typeName) (in \(context))"); return nil }
            guard !s.isEmpty else { problems.add(e.position, "\(key) must not hold an empty string (in \(context))"); return nil }
            out.append((s, e.position))
        }
        if out.isEmpty, what != nil { problems.add(n.position, "\(key) must not be empty (in \(context))"); return nil }
        return out
    }

    /// A command: a non-empty list of strings (program and arguments, no shell).
    func command(_ key: String, required what: String? = nil) -> [String]? {
        guard let n = node(key) else { if let what { missing(key, what) }; return nil }
        guard let arr = n.array, !arr.isEmpty, arr.allSatisfy({ $0.string != nil }), !(arr[0].string ?? "").isEmpty else {
            problems.add(n.position, "\(key) must be a command as a list of strings, e.g. [\"systemctl\", \"stop\", \"app\"] (in \(context))")
            return nil
        }
        return arr.compactMap(\.string)
    }

    func duration(_ key: String) -> Double? {
        guard let n = node(key) else { return nil }
        guard let s = n.string else { wrongType(key, n, "a duration such as \"30s\", \"5m\", \"2h\" or \"5d\""); return nil }
        if DurationText.isWellFormed(s) && DurationText.parse(s) == nil {
            problems.add(n.position, "\(key): duration \"\(s)\" is too long: the most is \(DurationText.maximumText) (in \(context))")
            return nil
        }
        guard let d = DurationText.parse(s), d > 0 else {
            problems.add(n.position, "\(key): invalid duration \"\(s)\": use a number and a unit s, m, h, d, w or y, e.g. \"5d\" (in \(context))")
            return nil
        }
        return d
    }

    func subtable(_ key: String) -> TOMLTable? {
        guard let n = node(key) else { return nil }
        guard let t = n.table else { wrongType(key, n, "a table"); return nil }
        return t
    }

    func tableArray(_ key: String) -> [TOMLTable] {
        guard let n = node(key) else { return [] }
        guard let arr = n.array, arr.allSatisfy({ $0.table != nil }) else {
            wrongType(key, n, "a list of tables, written [[\(key)]]"); return []
        }
        return arr.compactMap(\.table)
    }

    /// Reports every key that was not read, at the key itself.
    func finish(allowed extra: Set<String> = []) {
        for (key, n) in table.entries where !used.contains(key) && !extra.contains(key) {
            problems.add(n.keyPosition ?? n.position, "unknown key '\(key)' in \(context)")
        }
    }

    /// Reports keys that exist but do not apply here (e.g. `paths` on a database).
    func refuse(_ keys: [String], reason: String) {
        for key in keys {
            guard let n = table[key] else { continue }
            used.insert(key)
            problems.add(n.keyPosition ?? n.position, "key '\(key)' does not apply \(reason) (in \(context))")
        }
    }
}

extension TOMLTable {
    /// Where `key`'s value is, or the table itself when the key is absent (a problem always has a position).
    func position(of key: String) -> TOMLPosition { self[key]?.position ?? position }
}
