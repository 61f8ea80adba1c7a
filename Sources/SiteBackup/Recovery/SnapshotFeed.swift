#if canImport(Glibc)
import Glibc
#endif
import SiteSystem
import VaultCore
import VaultRepository
import VaultRestorer

/// Feeds a file of a snapshot to a program's standard input (pg_restore, tar -x, a restore
/// command), never through a temporary copy.
enum SnapshotFeed {
    /// Runs `command` with the node's content on its stdin; returns its result and its stdout.
    /// A write that fails because the program stopped reading is not an error here: the program's
    /// own exit status says why. A damaged blob in the repository is (the program is ended).
    static func run(_ command: Command, repo: Repository, node: Node, label: String) throws -> (result: ProcessResult, output: String) {
        let proc = try ProcessRunner().spawnStreamingStdin(command)
        let output = OutputCollector(fd: proc.stdoutFD)
        var readError: Error?
        do { try SnapshotFile.write(repo, node: node, to: proc.stdinFD!, label: label) } catch let e as VaultError where e.code != .io && e.code != .noSpace {
            readError = e
            proc.terminate()
        } catch {
            // EPIPE: the program exited early; its status explains.
        }
        close(proc.stdinFD!)
        let text = output.finish()
        let r = proc.wait()
        if let readError { throw readError }
        return (r, text)
    }
}
