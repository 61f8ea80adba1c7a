import VaultCore

/// The command line that starts an SFTP session: `ssh [-p PORT] [-l USER] -o BatchMode=yes HOST -s sftp`
/// (as restic runs it: the user's ssh config, keys, agent and known hosts apply; host keys are checked
/// and nothing ever prompts), or the words of `SITEVAULT_SFTP_COMMAND` / the control file's
/// `sftp_command`, which replace it whole (`ssh -F CONFIG ALIAS -s sftp`). Never run through a shell.
public struct SSHCommand: Equatable, Sendable {
    public var arguments: [String]

    public init(arguments: [String]) { self.arguments = arguments }

    /// The default command for `location`. Throws `.invalidArgument` for a host or user that would
    /// be read as an ssh option.
    public static func standard(for location: StoreLocation.SFTPLocation) throws -> SSHCommand {
        for part in [location.host, location.user ?? ""] where part.hasPrefix("-") {
            throw VaultError(.invalidArgument, "SFTP location: \"\(part)\" cannot start with \"-\"")
        }
        var args = ["ssh"]
        if let port = location.port { args += ["-p", String(port)] }
        if let user = location.user { args += ["-l", user] }
        args += ["-o", "BatchMode=yes", location.host, "-s", "sftp"]
        return SSHCommand(arguments: args)
    }

    /// Splits a command line into words the way a shell would for simple quoting: blanks separate
    /// words, '…' keeps everything literally, "…" keeps everything but `\"` and `\\`, a backslash
    /// outside quotes escapes the next character. No variables, globs or other expansion.
    /// Throws `.invalidArgument` for an unterminated quote or an empty command.
    public static func parse(_ text: String) throws -> SSHCommand {
        var words: [String] = []
        var word = ""
        var inWord = false
        var it = Array(text).makeIterator()
        func fail(_ why: String) -> VaultError {
            VaultError(.invalidArgument, "SFTP command \"\(text)\": \(why)")
        }
        while let c = it.next() {
            switch c {
            case " ", "\t", "\n":
                if inWord { words.append(word); word = ""; inWord = false }
            case "'":
                inWord = true
                var closed = false
                while let d = it.next() { if d == "'" { closed = true; break }; word.append(d) }
                if !closed { throw fail("a single quote is not closed") }
            case "\"":
                inWord = true
                var closed = false
                while let d = it.next() {
                    if d == "\"" { closed = true; break }
                    if d == "\\" {
                        guard let e = it.next() else { break }
                        if e != "\"" && e != "\\" { word.append(d) }
                        word.append(e)
                    } else { word.append(d) }
                }
                if !closed { throw fail("a double quote is not closed") }
            case "\\":
                inWord = true
                if let d = it.next() { word.append(d) }
            default:
                inWord = true
                word.append(c)
            }
        }
        if inWord { words.append(word) }
        guard !words.isEmpty else { throw fail("it is empty") }
        return SSHCommand(arguments: words)
    }
}
