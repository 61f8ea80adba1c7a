import Hummingbird

/// `GET /metrics`: open to this machine (loopback), else only with the bearer token of
/// `metrics.token` in the console's state folder, as exporters do.
extension Console {
    func metrics(_ req: Request, _ ctx: ConsoleContext) -> Response {
        if !ctx.peerIsLoopback {
            guard let token = settings.metricsToken() else {
                return Console.text("metrics from other machines need a bearer token: create metrics.token in \(settings.stateDir)\n",
                                    status: .forbidden)
            }
            let auth = req.headers[.authorization] ?? ""
            guard auth.hasPrefix("Bearer "), sameSecret(String(auth.dropFirst(7)), token) else {
                var r = Console.text("a bearer token is required\n", status: .unauthorized)
                r.headers[.wwwAuthenticate] = "Bearer"
                return r
            }
        }
        return Console.text(MetricsText.render(views()), type: "text/plain; version=0.0.4; charset=utf-8")
    }
}
