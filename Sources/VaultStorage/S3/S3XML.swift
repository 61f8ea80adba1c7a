import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// The few S3 XML documents the store reads, parsed with Foundation's `XMLParser`: each element's
/// text is reported with the names of the elements around it (namespaces ignored).
enum S3XML {
    /// Calls `element(path, text)` as each element closes (`["ListBucketResult", "Contents", "Key"]`).
    /// Returns false when the document is not well-formed XML.
    @discardableResult
    static func walk(_ data: Data, _ element: @escaping ([String], String) -> Void) -> Bool {
        let parser = XMLParser(data: data)
        let delegate = Delegate(element)
        parser.delegate = delegate
        return parser.parse()
    }

    private final class Delegate: NSObject, XMLParserDelegate {
        var path: [String] = []
        var texts: [String] = []
        let element: ([String], String) -> Void
        init(_ element: @escaping ([String], String) -> Void) { self.element = element }
        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            path.append(name); texts.append("")
        }
        func parser(_ parser: XMLParser, foundCharacters string: String) {
            if !texts.isEmpty { texts[texts.count - 1] += string }
        }
        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            element(path, texts.removeLast())
            path.removeLast()
        }
    }

    /// An S3 `<Error>`: its code and message ("" when absent, as Ceph RGW sometimes sends).
    static func error(_ data: Data) -> (code: String, message: String)? {
        var code: String?, message = ""
        walk(data) { path, text in
            guard path.count == 2, path[0] == "Error" else { return }
            if path[1] == "Code" { code = text } else if path[1] == "Message" { message = text }
        }
        return code.map { ($0, message) }
    }

    /// One page of ListObjectsV2.
    struct ListPage {
        var objects: [(key: String, size: Int)] = []
        var truncated = false
        var nextToken: String?
    }

    static func listPage(_ data: Data) -> ListPage? {
        var page = ListPage(), key: String?, size: Int?
        let ok = walk(data) { path, text in
            guard path.first == "ListBucketResult" else { return }
            switch path.dropFirst().joined(separator: "/") {
            case "Contents/Key": key = text
            case "Contents/Size": size = Int(text)
            case "Contents":
                if let k = key, let s = size { page.objects.append((k, s)) }
                key = nil; size = nil
            case "IsTruncated": page.truncated = text == "true"
            case "NextContinuationToken": page.nextToken = text.isEmpty ? nil : text
            default: break
            }
        }
        return ok ? page : nil
    }

    /// The text of the first element at `path` (e.g. `["InitiateMultipartUploadResult", "UploadId"]`).
    static func value(_ data: Data, at want: [String]) -> String? {
        var found: String?
        walk(data) { path, text in if found == nil && path == want { found = text } }
        return found
    }

    /// Unfinished multipart uploads: key, upload id, initiation time as written (ISO 8601).
    static func uploads(_ data: Data) -> (uploads: [(key: String, id: String, initiated: String)], truncated: Bool,
                                          nextKey: String?, nextID: String?) {
        var out: [(String, String, String)] = [], key = "", id = "", initiated = "", truncated = false
        var nextKey: String?, nextID: String?
        walk(data) { path, text in
            guard path.first == "ListMultipartUploadsResult" else { return }
            switch path.dropFirst().joined(separator: "/") {
            case "Upload/Key": key = text
            case "Upload/UploadId": id = text
            case "Upload/Initiated": initiated = text
            case "Upload": out.append((key, id, initiated)); key = ""; id = ""; initiated = ""
            case "IsTruncated": truncated = text == "true"
            case "NextKeyMarker": nextKey = text
            case "NextUploadIdMarker": nextID = text
            default: break
            }
        }
        return (out.map { (key: $0.0, id: $0.1, initiated: $0.2) }, truncated, nextKey, nextID)
    }

    /// Escapes text for an XML element body.
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
