import Hummingbird
import NIOCore

/// The request context: Hummingbird's core storage plus the peer's address (for the login limiter
/// and the loopback rule of /metrics).
struct ConsoleContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let peer: String
    let peerIsLoopback: Bool

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        let addr = source.channel.remoteAddress
        peer = addr?.ipAddress ?? "unknown"
        peerIsLoopback = peer.hasPrefix("127.") || peer == "::1" || peer.hasPrefix("::ffff:127.")
    }
}
