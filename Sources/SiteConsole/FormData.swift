import Foundation

/// An `application/x-www-form-urlencoded` body or query string, decoded.
struct FormData: Sendable {
    var fields: [String: String] = [:]

    init(_ text: String) {
        for pair in text.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let k = kv.first.map(decode), !k.isEmpty else { continue }
            fields[k] = kv.count > 1 ? decode(kv[1]) : ""
        }
    }

    subscript(_ key: String) -> String? { fields[key] }
}

private func decode(_ s: Substring) -> String {
    String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
}
