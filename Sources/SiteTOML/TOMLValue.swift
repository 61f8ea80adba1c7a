/// A TOML value.
public enum TOMLValue: Sendable {
    /// A string (basic, literal, or either multi-line form), with escapes resolved.
    case string(String)
    /// A 64-bit signed integer (decimal, hexadecimal, octal or binary in the source).
    case integer(Int64)
    /// A binary64 float, including `inf` and `nan`.
    case float(Double)
    /// `true` or `false`.
    case boolean(Bool)
    /// An offset date-time, local date-time, local date or local time. The
    /// shape and field ranges are validated; the raw source text is kept as is.
    case datetime(String)
    /// An array (static `[...]` or an array of tables `[[...]]`).
    case array([TOMLNode])
    /// A table (`[header]`, dotted-key table, inline table or array-of-tables element).
    case table(TOMLTable)
}

/// A value together with where it appeared in the source.
public struct TOMLNode: Sendable {
    /// The value.
    public var value: TOMLValue
    /// Where the value starts: the first character of a scalar, the `[` of
    /// an array, the `{` of an inline table, the `[` / `[[` of a header for
    /// header-defined tables and array-of-tables elements, or the key for
    /// tables created implicitly (by dotted keys or by a deeper header).
    public var position: TOMLPosition
    /// Where the key that defined the value starts (for dotted keys and
    /// headers: the last key part). For an element of an array of tables
    /// it is the last key part of that element's `[[...]]` header. `nil`
    /// for elements of static arrays and for the root table.
    public var keyPosition: TOMLPosition?

    /// Creates a node.
    public init(value: TOMLValue, position: TOMLPosition, keyPosition: TOMLPosition? = nil) {
        self.value = value
        self.position = position
        self.keyPosition = keyPosition
    }

    /// The position to report for problems with this entry: the key if it
    /// has one, otherwise the value.
    public var reportPosition: TOMLPosition { keyPosition ?? position }

    /// The TOML type name: `"string"`, `"integer"`, `"float"`, `"boolean"`,
    /// `"date-time"`, `"array"` or `"table"`.
    public var typeName: String {
        switch value {
        case .string: return "string"
        case .integer: return "integer"
        case .float: return "float"
        case .boolean: return "boolean"
        case .datetime: return "date-time"
        case .array: return "array"
        case .table: return "table"
        }
    }

    /// The string, if this is a string.
    public var string: String? {
        if case .string(let s) = value { return s }
        return nil
    }

    /// The integer, if this is an integer.
    public var integer: Int64? {
        if case .integer(let i) = value { return i }
        return nil
    }

    /// The float, if this is a float (integers are not converted).
    public var float: Double? {
        if case .float(let d) = value { return d }
        return nil
    }

    /// The boolean, if this is a boolean.
    public var bool: Bool? {
        if case .boolean(let b) = value { return b }
        return nil
    }

    /// The raw date-time text, if this is a date-time.
    public var datetime: String? {
        if case .datetime(let s) = value { return s }
        return nil
    }

    /// The elements, if this is an array (static or array of tables).
    public var array: [TOMLNode]? {
        if case .array(let a) = value { return a }
        return nil
    }

    /// The table, if this is a table.
    public var table: TOMLTable? {
        if case .table(let t) = value { return t }
        return nil
    }
}
