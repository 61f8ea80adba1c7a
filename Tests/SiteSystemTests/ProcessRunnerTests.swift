#if canImport(Glibc)
import Glibc
#endif
import XCTest
@testable import SiteSystem
import VaultCore

final class ProcessRunnerTests: XCTestCase {
    let runner = ProcessRunner()

    func testExitStatusAndCapturedOutput() throws {
        let r = try runner.run(sh("echo out; echo 'first problem' >&2; echo 'last problem' >&2; exit 3"))
        XCTAssertEqual(r.exitCode, 3)
        XCTAssertNil(r.signal)
        XCTAssertFalse(r.succeeded)
        XCTAssertFalse(r.timedOut)
        XCTAssertEqual(r.stdoutText, "out")
        XCTAssertEqual(r.stdout, Array("out\n".utf8))
        XCTAssertEqual(r.stderrText, "first problem\nlast problem")
        XCTAssertEqual(r.summary, "exited with status 3: last problem")
        XCTAssertEqual(r.command, "/bin/sh")
        XCTAssertGreaterThan(r.duration, 0)
        XCTAssertThrowsError(try r.check()) { e in
            XCTAssertEqual("\(e)", "'/bin/sh' exited with status 3: last problem")
        }
    }

    func testSuccessLooksUpPATH() throws {
        let r = try runner.run(Command(["true"]))
        XCTAssertTrue(r.succeeded)
        XCTAssertEqual(r.exitCode, 0)
        XCTAssertNoThrow(try r.check())
        XCTAssertEqual(r.summary, "exited with status 0")
        // The child's own PATH decides the lookup when the environment sets one.
        let dir = makeTemporaryDirectory()
        defer { removeTree(dir) }
        writeFile("\(dir)/sitevault-fake-tool", "#!/bin/sh\necho fake tool \"$@\"\n", mode: 0o755)
        let fake = try runner.run(Command(["sitevault-fake-tool", "a b"], extraEnvironment: ["PATH": "\(dir):/usr/bin:/bin"]))
        XCTAssertEqual(fake.stdoutText, "fake tool a b")
    }

    func testKilledBySignal() throws {
        let r = try runner.run(sh("echo dying >&2; kill -9 $$"))
        XCTAssertNil(r.exitCode)
        XCTAssertEqual(r.signal, SIGKILL)
        XCTAssertFalse(r.succeeded)
        XCTAssertEqual(r.summary, "killed by signal 9 (SIGKILL): dying")
    }

    func testMissingExecutableNamesTheCommand() {
        XCTAssertThrowsError(try runner.run(Command(["sitevault-no-such-command", "--flag"]))) { e in
            XCTAssertEqual("\(e)", "cannot run 'sitevault-no-such-command': No such file or directory")
            XCTAssertEqual((e as? VaultError)?.code, .notFound)
        }
        XCTAssertThrowsError(try runner.run(Command(["/nonexistent/dir/tool"]))) { e in
            XCTAssertEqual("\(e)", "cannot run '/nonexistent/dir/tool': No such file or directory")
        }
        let dir = makeTemporaryDirectory()
        defer { removeTree(dir) }
        writeFile("\(dir)/plain", "not a program\n", mode: 0o644)
        XCTAssertThrowsError(try runner.run(Command(["\(dir)/plain"]))) { e in
            XCTAssertEqual("\(e)", "cannot run '\(dir)/plain': Permission denied")
        }
        XCTAssertThrowsError(try runner.run(Command(["plain"], extraEnvironment: ["PATH": dir]))) { e in
            XCTAssertEqual("\(e)", "cannot run 'plain': Permission denied")
        }
        XCTAssertThrowsError(try runner.run(Command([]))) { e in
            XCTAssertEqual((e as? VaultError)?.code, .invalidArgument)
        }
        XCTAssertThrowsError(try runner.run(Command(["pwd"], workingDirectory: "/nonexistent-dir"))) { e in
            XCTAssertTrue("\(e)".contains("cannot run 'pwd': working directory /nonexistent-dir: No such file or directory"), "\(e)")
        }
    }

    func testWorkingDirectory() throws {
        let r = try runner.run(Command(["pwd"], workingDirectory: "/usr/share"))
        XCTAssertEqual(r.stdoutText, "/usr/share")
    }

    func testEnvironment() throws {
        // Extra variables go on top of the inherited environment (PATH still there).
        let merged = try runner.run(sh("printf '%s|%s' \"$SV_SECRET\" \"${PATH:+has-path}\"", extra: ["SV_SECRET": "pa ss'word"]))
        XCTAssertEqual(merged.stdoutText, "pa ss'word|has-path")
        // A given environment replaces ours entirely.
        let only = try runner.run(Command(["/usr/bin/env"], environment: ["A": "1"], extraEnvironment: ["B": "2"]))
        XCTAssertEqual(only.stdoutText, "A=1\nB=2")
        let empty = try runner.run(Command(["/usr/bin/env"], environment: [:]))
        XCTAssertEqual(empty.stdoutText, "")
    }

    /// The repository password never reaches a child: not inherited, not given, not added.
    func testRepositoryPasswordIsWithheldFromChildren() throws {
        setenv("SITEVAULT_PASSWORD", "inherited-secret", 1)
        defer { unsetenv("SITEVAULT_PASSWORD") }
        let inherited = try runner.run(Command(["/usr/bin/env"]))
        XCTAssertTrue(inherited.stdoutText.contains("PATH="), "the rest of the environment is inherited")
        XCTAssertFalse(inherited.stdoutText.contains("SITEVAULT_PASSWORD"), inherited.stdoutText)
        let given = try runner.run(Command(["/usr/bin/env"], environment: ["SITEVAULT_PASSWORD": "x", "A": "1"],
                                           extraEnvironment: ["SITEVAULT_PASSWORD": "y"]))
        XCTAssertEqual(given.stdoutText, "A=1")
        setenv("SITEVAULT_PASSWORD_FILE", "/not/a/secret", 1)
        defer { unsetenv("SITEVAULT_PASSWORD_FILE") }
        XCTAssertTrue(try runner.run(Command(["/usr/bin/env"])).stdoutText.contains("SITEVAULT_PASSWORD_FILE=/not/a/secret"))
    }

    func testOutputLimits() throws {
        let small = ProcessRunner(stdoutLimit: 1000, stderrLimit: 100)
        let r = try small.run(sh("head -c 5000 /dev/zero; seq 1 10000 >&2"))
        XCTAssertEqual(r.stdout.count, 1000)
        XCTAssertTrue(r.stdoutTruncated)
        XCTAssertEqual(r.stderr.count, 100)
        XCTAssertTrue(r.stderrTruncated)
        XCTAssertTrue(r.stderrText.hasSuffix("9999\n10000"), r.stderrText)
        let exact = try small.run(sh("head -c 1000 /dev/zero; printf 'short' >&2"))
        XCTAssertEqual(exact.stdout.count, 1000)
        XCTAssertFalse(exact.stdoutTruncated)
        XCTAssertFalse(exact.stderrTruncated)
        XCTAssertEqual(exact.stderrText, "short")
    }

    func testStderrFloodWhileStdoutIsRead() throws {
        // 20 MB on stderr before the first stdout byte, and both flooding at once: no deadlock.
        let r = try runner.run(sh("head -c 20000000 /dev/zero >&2; echo done"))
        XCTAssertEqual(r.stdoutText, "done")
        XCTAssertEqual(r.stderr.count, 64 << 10)
        XCTAssertTrue(r.stderrTruncated)
        let both = try runner.run(sh("head -c 8000000 /dev/zero >&2 & head -c 8000000 /dev/zero; wait"))
        XCTAssertTrue(both.succeeded)
        XCTAssertEqual(both.stdout.count, 1 << 20)
        XCTAssertTrue(both.stdoutTruncated)
        XCTAssertEqual(both.stderr.count, 64 << 10)
    }

    func testStreamingFiftyMegabytesWithChecksum() throws {
        let dir = makeTemporaryDirectory()
        defer { removeTree(dir) }
        let copy = "\(dir)/copy"
        let size = 50 * 1024 * 1024
        var streamed = FNV1a()
        var biggest = 0
        let r = try runner.runStreaming(Command(["/bin/sh", "-c", "head -c \(size) /dev/urandom | tee \"$1\"; echo note >&2", "sh", copy])) { chunk in
            streamed.update(chunk)
            biggest = max(biggest, chunk.count)
        }
        XCTAssertTrue(r.succeeded, r.summary)
        XCTAssertEqual(r.stdout, [])
        XCTAssertEqual(r.stderrText, "note")
        XCTAssertEqual(streamed.count, size)
        XCTAssertLessThanOrEqual(biggest, PipeIO.chunkSize)
        // Hash the child's copy the same way, in pieces.
        var expected = FNV1a()
        let fd = open(copy, O_RDONLY | O_CLOEXEC)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = read(fd, &buf, buf.count)
            if n <= 0 { break }
            buf.withUnsafeBytes { expected.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        XCTAssertEqual(expected.count, size)
        XCTAssertEqual(streamed.hash, expected.hash)
    }

    func testStdinIsPassedAndEndsWithEOF() throws {
        let r = try runner.run(Command(["cat"]), stdin: Array("secret\nvalue".utf8))
        XCTAssertEqual(r.stdoutText, "secret\nvalue")
        let empty = try runner.run(Command(["cat"]), stdin: [])
        XCTAssertEqual(empty.stdout, [])
        // Without stdin data the child reads /dev/null, never our own standard input.
        let none = try runner.run(Command(["cat"]))
        XCTAssertTrue(none.succeeded)
        XCTAssertEqual(none.stdout, [])
    }

    func testChildIgnoringStdinDoesNotBlockOrKillUs() throws {
        // With SIGPIPE at its default action, an EPIPE on the child's stdin would kill the test run.
        let oldPipe = signal(SIGPIPE, SIG_DFL)
        defer { signal(SIGPIPE, oldPipe) }
        let big = [UInt8](repeating: 0x61, count: 10 << 20)
        // Never reads stdin, writes a lot: neither side may wait on the other.
        let ignoring = try runner.run(sh("head -c 3000000 /dev/zero; echo bye >&2"), stdin: big)
        XCTAssertTrue(ignoring.succeeded)
        XCTAssertEqual(ignoring.stderrText, "bye")
        // Reads a little, then exits: the rest of stdin hits EPIPE, which must not raise SIGPIPE here.
        let partial = try runner.run(Command(["head", "-c", "10"]), stdin: big)
        XCTAssertEqual(partial.stdout, [UInt8](repeating: 0x61, count: 10))
        let immediate = try runner.run(Command(["true"]), stdin: big)
        XCTAssertTrue(immediate.succeeded)
    }

    func testStdinFeederSurvivesEPIPE() throws {
        let oldPipe = signal(SIGPIPE, SIG_DFL)
        defer { signal(SIGPIPE, oldPipe) }
        let data = try LibcExtras.cloexecPipe(), exit = try LibcExtras.cloexecPipe()
        close(data.read)  // no reader: the first write fails with EPIPE (and raises SIGPIPE)
        let t = try BackgroundThread { PipeIO.feed(data.write, data: [1, 2, 3], exitFD: exit.read) }
        t.join()  // still alive: the feeder blocked SIGPIPE on its thread
        close(exit.read); close(exit.write)
    }

    func testSpawnHandleExposesStdout() throws {
        let p = try runner.spawn(sh("echo hello; echo warn >&2; exit 4"))
        XCTAssertGreaterThan(p.pid, 0)
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(p.stdoutFD, &buf, buf.count)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        let r = p.wait()
        XCTAssertEqual(String(decoding: out, as: UTF8.self), "hello\n")
        XCTAssertEqual(r.exitCode, 4)
        XCTAssertEqual(r.stderrText, "warn")
        XCTAssertEqual(p.wait().exitCode, 4)  // idempotent
    }

    func testCallbackErrorKillsTheChild() throws {
        struct Stop: Error {}
        let dir = makeTemporaryDirectory()
        defer { removeTree(dir) }
        let start = monotonicSeconds()
        var calls = 0
        XCTAssertThrowsError(try runner.runStreaming(Command(["/bin/sh", "-c", "echo $$ > \"$1\"; while :; do head -c 65536 /dev/zero; done", "sh", "\(dir)/pid"])) { _ in
            calls += 1
            throw Stop()
        }) { e in XCTAssertTrue(e is Stop, "\(e)") }
        XCTAssertEqual(calls, 1)
        XCTAssertLessThan(monotonicSeconds() - start, 10)
        let pid = pid_t(readText("\(dir)/pid")!.split(separator: "\n")[0])!
        XCTAssertNil(processState(pid), "the child was killed and reaped")
        XCTAssertTrue(childProcesses().isEmpty)
    }

    func testCallbackErrorKillsAChildIgnoringSIGTERM() throws {
        struct Stop: Error {}
        let quick = ProcessRunner(killGrace: 0.3)
        let start = monotonicSeconds()
        XCTAssertThrowsError(try quick.runStreaming(sh("trap '' TERM PIPE; echo go; sleep 30")) { _ in throw Stop() })
        XCTAssertLessThan(monotonicSeconds() - start, 10)
        XCTAssertTrue(childProcesses().isEmpty)
    }

    func testDescendantHoldingPipesDoesNotHang() throws {
        let dir = makeTemporaryDirectory()
        defer { removeTree(dir) }
        let quick = ProcessRunner(exitLinger: 0.3)
        let start = monotonicSeconds()
        let r = try quick.run(Command(["/bin/sh", "-c", "sleep 30 & echo $! > \"$1\"; echo ok", "sh", "\(dir)/pid"]))
        XCTAssertLessThan(monotonicSeconds() - start, 10)
        XCTAssertEqual(r.stdoutText, "ok")
        XCTAssertTrue(r.succeeded)
        if let pid = readText("\(dir)/pid").flatMap({ pid_t($0.split(separator: "\n")[0]) }) { kill(pid, SIGKILL) }
    }

    func testChildGetsDefaultSignalsEmptyMaskAndNoStrayDescriptors() throws {
        // What we ignore or block must not be inherited.
        let oldTerm = signal(SIGTERM, SIG_IGN)
        var block = sigset_t(), old = sigset_t()
        sigemptyset(&block)
        sigaddset(&block, SIGUSR1)
        pthread_sigmask(SIG_BLOCK, &block, &old)
        let stray = open("/dev/null", O_RDONLY)  // deliberately without O_CLOEXEC
        defer {
            signal(SIGTERM, oldTerm)
            pthread_sigmask(SIG_SETMASK, &old, nil)
            close(stray)
        }
        let killed = try runner.run(sh("kill -TERM $$; echo survived"))
        XCTAssertEqual(killed.signal, SIGTERM)
        let mask = try runner.run(Command(["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"]))
        // Only the standard signals: glibc's posix_spawn leaves its internal ones (32, 33) ignored.
        let sets = mask.stdoutText.split(separator: "\n").map { UInt64($0.split(separator: "\t")[1], radix: 16)! & 0x7fff_ffff }
        XCTAssertEqual(sets, [0, 0], mask.stdoutText)
        let fds = try runner.run(Command(["ls", "/proc/self/fd"]))
        XCTAssertEqual(fds.stdoutText.split(separator: "\n"), ["0", "1", "2", "3"])  // 3: ls's own directory
    }

    func testChildRunsInItsOwnProcessGroup() throws {
        let r = try runner.run(sh("echo $$; ps -o pgid= -p $$ 2>/dev/null || cut -d' ' -f5 /proc/$$/stat"))
        let lines = r.stdoutText.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        XCTAssertEqual(lines.count, 2)
        XCTAssertEqual(lines[0], lines[1])
        XCTAssertNotEqual(pid_t(lines[1]), getpgrp())
    }

    func testNoZombiesLeft() throws {
        for i in 0..<20 {
            _ = try runner.run(sh("exit \(i % 3)"))
            _ = try runner.runStreaming(sh("echo x")) { _ in }
        }
        XCTAssertTrue(childProcesses().isEmpty, "\(childProcesses())")
        var status: Int32 = 0
        XCTAssertEqual(waitpid(-1, &status, WNOHANG), -1)
        XCTAssertEqual(errno, ECHILD)
    }
}
