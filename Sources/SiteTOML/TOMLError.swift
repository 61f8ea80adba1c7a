/// A syntax or structure error in a TOML document.
///
/// `TOML.parse` throws only this error type. The position points at the exact
/// character where the problem was detected (for example the duplicate key,
/// the invalid escape, or the opening quote of an unterminated string).
public struct TOMLError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Where the problem is.
    public var position: TOMLPosition
    /// A short, operator-readable explanation, without the position.
    public var message: String

    /// Creates an error at `position`.
    public init(position: TOMLPosition, message: String) {
        self.position = position
        self.message = message
    }

    /// `"line L, column C: message"`.
    public var description: String { "\(position): \(message)" }
}
