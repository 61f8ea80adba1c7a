import VaultCore

/// Turns what ssh printed on standard error when a session ended into a named error that says what to do.
enum SFTPConnectError {
    /// The error for a session that ended before the SFTP handshake (`started` false) or during use.
    static func make(stderr: String, status: Int32, server: String, started: Bool) -> VaultError {
        let said = lastLines(stderr)
        let ctx = ["server": server, "ssh": said]
        let lower = stderr.lowercased()
        func has(_ s: String) -> Bool { lower.contains(s.lowercased()) }
        if has("Host key verification failed") || has("REMOTE HOST IDENTIFICATION HAS CHANGED") {
            return VaultError(.io, "the SSH host key of \(server) is not known or has changed (\(said)): check the "
                + "server's key fingerprint and add it to known_hosts (for example by connecting once with ssh yourself), "
                + "then run again; sitevault never accepts a host key by itself", context: ctx)
        }
        if has("Permission denied (") || has("Too many authentication failures") {
            return VaultError(.io, "the SSH server \(server) refused to log in (\(said)): add the public key to the "
                + "user's authorized_keys on the server, or give ssh the right key (ssh-agent, IdentityFile in ~/.ssh/config); "
                + "sitevault runs ssh with BatchMode=yes, so it cannot ask for a password or passphrase", context: ctx)
        }
        if has("Could not resolve hostname") {
            return VaultError(.io, "cannot find the SFTP server \(server) (\(said)): check the host name in the "
                + "repository location or your ssh config", context: ctx)
        }
        if has("subsystem request failed") {
            return VaultError(.io, "the SSH server \(server) does not offer SFTP (\(said)): enable it with "
                + "\"Subsystem sftp internal-sftp\" (or sftp-server) in its sshd_config", context: ctx)
        }
        for net in ["Connection refused", "Connection timed out", "No route to host", "Network is unreachable",
                    "Connection reset", "Connection closed by", "Broken pipe", "timed out"] where has(net) {
            var c = ctx
            // No connection at all (not one lost on the way): the repository cannot be reached.
            if ["Connection refused", "No route to host", "Network is unreachable", "Connection timed out"].contains(net) {
                c["unreachable"] = server
            }
            return VaultError(.transient, "cannot reach the SFTP server \(server) (\(said)): check that the server "
                + "is up and its SSH daemon listens on that port, then run again", context: c)
        }
        let exit = status >= 128 ? "was killed by signal \(status - 128)" : "exited with status \(status)"
        if started {
            return VaultError(.transient, "the SFTP session with \(server) ended: ssh \(exit)"
                + (said.isEmpty ? "" : " (\(said))") + "; check the server and the network, then run again "
                + "(an interrupted backup commits nothing)", context: ctx)
        }
        return VaultError(.io, "the SFTP session with \(server) could not start: ssh \(exit)"
            + (said.isEmpty ? " without a message" : " (\(said))")
            + "; try the same ssh command by hand (see SITEVAULT_SFTP_COMMAND in docs/remote-repositories.md)", context: ctx)
    }

    /// The last few meaningful lines, joined, at most 400 characters.
    static func lastLines(_ text: String) -> String {
        let lines = text.split(whereSeparator: { $0.isNewline })
            .map { $0.trimmingCharacters(in: " \t") }
            .filter { !$0.isEmpty && !$0.hasPrefix("Warning: Permanently added") }
        let joined = lines.suffix(3).joined(separator: "; ")
        return joined.count > 400 ? String(joined.suffix(400)) : joined
    }
}

private extension Substring {
    func trimmingCharacters(in set: String) -> String {
        var s = self
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return String(s)
    }
}
