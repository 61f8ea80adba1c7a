import Foundation
import Hummingbird
import VaultCore

/// Logging in and out: a login form guarded by a double-submit token (no session exists yet),
/// passwords checked against the users file, failed attempts limited per address.
extension Console {
    func loginPage(_ req: Request, error: String?, status: HTTPResponse.Status = .ok) -> Response {
        let token = randomToken()
        let users = (try? ConsoleUsers.load(stateDir: settings.stateDir))?.users ?? []
        var body = "<div class=\"card login\"><h1>Log in</h1>"
        if let error { body += "<p class=\"error\">\(HTML.escape(error))</p>" }
        if users.isEmpty {
            body += "<p class=\"error\">No console user exists yet. On the server, run <code>sitevault console passwd --user NAME"
                + " --console-dir \(HTML.escape(settings.stateDir))</code>, then log in here.</p>"
        }
        body += "<form method=\"post\" action=\"/login\"><input type=\"hidden\" name=\"login_token\" value=\"\(token)\">"
        body += "<label for=\"user\">User</label><input type=\"text\" id=\"user\" name=\"user\" autocomplete=\"username\" required>"
        body += "<label for=\"password\">Password</label><input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"current-password\" required>"
        body += "<p><button class=\"primary\" type=\"submit\">Log in</button></p></form></div>"
        var r = Console.html(HTML.page(title: "Log in", user: nil, csrf: nil, body: body), status: status)
        r.setCookie(Cookie(name: Console.loginCookie, value: token, maxAge: 3600, path: "/login", secure: settings.secureCookies,
                           httpOnly: true, sameSite: .strict))
        return r
    }

    func login(_ req: Request, _ ctx: ConsoleContext) async throws -> Response {
        let form = try await Console.form(req)
        guard let sent = form["login_token"], let cookie = req.cookies[Console.loginCookie]?.value, sameSecret(sent, cookie) else {
            return loginPage(req, error: "The login form expired or came from another page: try again.", status: .forbidden)
        }
        if let wait = limiter.retryAfter(ctx.peer) {
            // Slow the next guess down as well as refusing it.
            try? await Task.sleep(nanoseconds: 1_000_000_000)
            var r = loginPage(req, error: "Too many failed logins from your address: try again in \(Int(wait.rounded(.up))) s.",
                              status: .tooManyRequests)
            r.headers[.retryAfter] = "\(Int(wait.rounded(.up)))"
            return r
        }
        let name = form["user"] ?? ""
        let password = Array((form["password"] ?? "").utf8)
        let users: ConsoleUsers
        do { users = try ConsoleUsers.load(stateDir: settings.stateDir) } catch {
            return loginPage(req, error: (error as? VaultError)?.message ?? "\(error)", status: .internalServerError)
        }
        guard let user = users.verify(name: name, password: password) else {
            limiter.failed(ctx.peer)
            return loginPage(req, error: "Wrong user name or password.", status: .unauthorized)
        }
        limiter.succeeded(ctx.peer)
        let s = sessions.create(for: user)
        var r = Console.redirect("/")
        r.setCookie(Cookie(name: Console.sessionCookie, value: s.id, maxAge: Int(sessions.lifetime), path: "/",
                           secure: settings.secureCookies, httpOnly: true, sameSite: .strict))
        return r
    }

    func logout(_ req: Request, _ ctx: ConsoleContext) async throws -> Response {
        let form = try await Console.form(req)
        if let s = session(req) {
            guard let t = form["csrf"], sameSecret(t, s.csrf) else { return errorPage(s, .forbidden, "The form lacks its CSRF token.") }
            sessions.remove(s.id)
        }
        var r = Console.redirect("/login")
        r.setCookie(Cookie(name: Console.sessionCookie, value: "", maxAge: 0, path: "/", secure: settings.secureCookies,
                           httpOnly: true, sameSite: .strict))
        return r
    }
}
