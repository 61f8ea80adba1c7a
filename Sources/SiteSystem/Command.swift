/// A command to run: an argument vector (never a shell string), its environment, working
/// directory and time limit.
///
/// Secrets must not go into `argv` (any user can read it from /proc): pass them through
/// `extraEnvironment` or on standard input.
public struct Command: Sendable, Hashable {
    /// The program and its arguments. `argv[0]` without a slash is looked up in `PATH`
    /// (the child's `PATH` when the environment sets one, else ours).
    public var argv: [String]
    /// The whole environment of the child; nil inherits this process's environment.
    public var environment: [String: String]?
    /// Variables set on top of `environment` (or of the inherited environment).
    public var extraEnvironment: [String: String]
    /// The child's working directory; nil keeps ours.
    public var workingDirectory: String?
    /// Seconds after which the child's process group gets SIGTERM, then SIGKILL after the
    /// runner's grace period; nil waits forever.
    public var timeout: Double?

    public init(_ argv: [String], environment: [String: String]? = nil, extraEnvironment: [String: String] = [:],
                workingDirectory: String? = nil, timeout: Double? = nil) {
        self.argv = argv
        self.environment = environment
        self.extraEnvironment = extraEnvironment
        self.workingDirectory = workingDirectory
        self.timeout = timeout
    }

    /// Variables no child ever receives: sitevault's own secrets (the repository password). Writers,
    /// settings commands, hooks, alerts and database tools have no use for them.
    public static let withheldVariables: Set<String> = ["SITEVAULT_PASSWORD"]

    /// The program name used in messages (`argv[0]`; arguments are left out as they may be long).
    public var name: String { argv.first ?? "" }
}
