import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import SiteBackup
import SiteService
import VaultCore

/// The web console: dashboard, site pages, actions, login, and /metrics, served by Hummingbird
/// beside the service's loop. Everything it shows is read from `source` and the status stores.
public struct Console: Sendable {
    let source: ConsoleSource
    let settings: ConsoleSettings
    let sessions: SessionStore
    let limiter: LoginLimiter

    static let sessionCookie = "sitevault_session"
    static let loginCookie = "sitevault_login"

    public init(source: ConsoleSource, settings: ConsoleSettings) {
        self.source = source; self.settings = settings
        sessions = SessionStore(clock: settings.clock)
        limiter = LoginLimiter(clock: settings.clock, allowed: settings.loginAttempts, lockout: settings.loginLockout)
    }

    /// Serves until the surrounding task is cancelled, over HTTPS when `settings.tls` is set.
    /// `onListening` gets the bound address (the port chosen when 0 was asked for).
    public func run(onListening: @escaping @Sendable (String) -> Void) async throws {
        let router = Router(context: ConsoleContext.self)
        routes(router)
        let server: HTTPServerBuilder = try settings.tls.map { try .tls(.http1(), tlsConfiguration: $0.configuration) } ?? .http1()
        let scheme = settings.tls == nil ? "http" : "https"
        let app = Application(router: router, server: server,
                              configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: nil),
                              onServerRunning: { ch in
                                  let a = ch.localAddress
                                  let host = a?.ipAddress.map { $0.contains(":") ? "[\($0)]" : $0 } ?? settings.host
                                  onListening("\(scheme)://\(host):\(a?.port ?? settings.port)/")
                              }, logger: Console.logger)
        try await app.run()
    }

    func routes(_ r: Router<ConsoleContext>) {
        r.get("/") { req, ctx in try await self.withSession(req, ctx) { s in self.dashboard(s) } }
        r.get("/login") { req, _ in self.loginPage(req, error: nil) }
        r.post("/login") { req, ctx in try await self.login(req, ctx) }
        r.post("/logout") { req, ctx in try await self.logout(req, ctx) }
        r.get("/sites/:site") { req, ctx in
            try await self.withSession(req, ctx) { s in self.sitePage(s, site: ctx.parameters.get("site") ?? "", query: req.uri.query ?? "") }
        }
        r.get("/sites/:site/runs/:run") { req, ctx in
            try await self.withSession(req, ctx) { s in
                self.runPage(s, site: ctx.parameters.get("site") ?? "", run: ctx.parameters.get("run") ?? "")
            }
        }
        r.get("/sites/:site/chart.svg") { req, ctx in
            try await self.withSession(req, ctx) { _ in self.chart(site: ctx.parameters.get("site") ?? "") }
        }
        r.get("/sites/:site/confirm/:action") { req, ctx in
            try await self.withSession(req, ctx) { s in
                self.confirmPage(s, site: ctx.parameters.get("site") ?? "", action: ctx.parameters.get("action") ?? "")
            }
        }
        r.post("/sites/:site/actions/:action") { req, ctx in try await self.action(req, ctx) }
        r.get("/metrics") { req, ctx in self.metrics(req, ctx) }
    }

    /// Hummingbird's own log: warnings and errors only (the service's stderr goes to the journal).
    static let logger: Logger = {
        var l = Logger(label: "sitevault-console")
        l.logLevel = .warning
        return l
    }()

    // MARK: responses

    static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        var h = HTTPFields()
        h[.contentType] = "text/html; charset=utf-8"
        h[.cacheControl] = "no-store"
        h[.contentSecurityPolicy] = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'"
        h[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        h[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func text(_ text: String, type: String = "text/plain; charset=utf-8", status: HTTPResponse.Status = .ok) -> Response {
        var h = HTTPFields()
        h[.contentType] = type
        h[.cacheControl] = "no-store"
        h[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    static func redirect(_ to: String) -> Response {
        var h = HTTPFields()
        h[.location] = to
        h[.cacheControl] = "no-store"
        return Response(status: .seeOther, headers: h)
    }

    func errorPage(_ s: Session?, _ status: HTTPResponse.Status, _ message: String) -> Response {
        Console.html(HTML.page(title: "\(status.code)", user: s?.user, csrf: s?.csrf,
                               body: "<h1>\(status.code) \(HTML.escape(status.reasonPhrase))</h1><p class=\"error\">\(HTML.escape(message))</p>"
                                   + "<p><a href=\"/\">Back to the dashboard</a></p>"), status: status)
    }

    // MARK: sessions

    func session(_ req: Request) -> Session? { sessions.find(req.cookies[Console.sessionCookie]?.value) }

    func withSession(_ req: Request, _ ctx: ConsoleContext, _ body: (Session) throws -> Response) async throws -> Response {
        guard let s = session(req) else { return Console.redirect("/login") }
        return try body(s)
    }

    /// The views of every site, read now.
    func views() -> [SiteView] {
        let now = settings.clock.now()
        return source.state().map { SiteView.load($0, now: now) }
    }

    func view(_ site: String) -> SiteView? {
        guard let s = source.state().first(where: { $0.config.site == site }) else { return nil }
        return SiteView.load(s, now: settings.clock.now())
    }

    /// A form body (at most 64 KiB).
    static func form(_ req: Request) async throws -> FormData {
        var r = req
        let buf = try await r.collectBody(upTo: 64 << 10)
        return FormData(String(buffer: buf))
    }
}
