import Foundation
import Hummingbird
import SiteService
import VaultCore

/// The buttons: each opens a confirmation page whose form (with the session's CSRF token) posts
/// the action; read-only users are refused with 403.
enum ConsoleAction: String, CaseIterable {
    case backup, drill, thaw, acknowledge

    var title: String {
        switch self {
        case .backup: return "Run a backup now"
        case .drill: return "Run a recovery drill now"
        case .thaw: return "Thaw the writers left frozen"
        case .acknowledge: return "Acknowledge the staleness alarm"
        }
    }

    var explanation: String {
        switch self {
        case .backup: return "The backup is queued and runs as soon as the service is free (runs never overlap). Its writers freeze as usual."
        case .drill: return "The drill restores the newest snapshot into the drill sandbox and checks it; it can take as long as a recovery."
        case .thaw: return "Undoes a freeze left by a run that died (like `sitevault site thaw`): each frozen writer's thaw command runs."
        case .acknowledge: return "Records that you saw the alarm (message 1601). The alarm itself stands until a good run lands."
        }
    }
}

extension Console {
    func confirmPage(_ s: Session, site: String, action: String) -> Response {
        guard let a = ConsoleAction(rawValue: action) else { return errorPage(s, .notFound, "There is no action \(action).") }
        guard view(site) != nil else { return errorPage(s, .notFound, "There is no site \(site) in this service.") }
        if s.user.role == .readOnly { return errorPage(s, .forbidden, "Your user is read-only: actions are for administrators.") }
        let esc = HTML.escape(site), url = HTML.urlComponent(site)
        let body = "<h1>\(HTML.escape(a.title)): \(esc)</h1><div class=\"card\"><p>\(HTML.escape(a.explanation))</p>"
            + "<form method=\"post\" action=\"/sites/\(url)/actions/\(a.rawValue)\">\(HTML.csrfField(s.csrf))"
            + "<button class=\"\(a == .thaw ? "danger" : "primary")\" type=\"submit\" id=\"confirm\">Yes, \(HTML.escape(a.title.lowercased()))</button> "
            + "<a href=\"/sites/\(url)\">Cancel</a></form></div>"
        return Console.html(HTML.page(title: a.title, user: s.user, csrf: s.csrf, body: body))
    }

    func action(_ req: Request, _ ctx: ConsoleContext) async throws -> Response {
        let form = try await Console.form(req)
        guard let s = session(req) else { return errorPage(nil, .unauthorized, "Log in first.") }
        guard let t = form["csrf"], sameSecret(t, s.csrf) else {
            return errorPage(s, .forbidden, "The form lacks its CSRF token (or it belongs to another session): nothing was done.")
        }
        guard s.user.role == .admin else { return errorPage(s, .forbidden, "Your user is read-only: actions are for administrators.") }
        let site = ctx.parameters.get("site") ?? ""
        guard let a = ConsoleAction(rawValue: ctx.parameters.get("action") ?? "") else { return errorPage(s, .notFound, "No such action.") }
        guard let v = view(site) else { return errorPage(s, .notFound, "There is no site \(site) in this service.") }
        let who = "\(s.user.name) from \(ctx.peer)"
        let done: Bool
        switch a {
        case .backup: done = source.request(site: site, .backup, by: who) || v.service.queued.contains { $0.kind == .backup }
        case .drill: done = source.request(site: site, .drill, by: who) || v.service.queued.contains { $0.kind == .drill }
        case .thaw: done = source.request(site: site, .thaw, by: who) || v.service.queued.contains { $0.kind == .thaw }
        case .acknowledge: done = source.acknowledgeAlarm(site: site, by: who)
        }
        guard done else { return errorPage(s, .conflict, "The service did not take the request.") }
        return Console.redirect("/sites/\(HTML.urlComponent(site))?done=\(a.rawValue)")
    }
}
