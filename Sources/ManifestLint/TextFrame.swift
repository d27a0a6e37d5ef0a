import Yams

/// A line and column (1-based) in a manifest file.
struct Position: Sendable, Equatable, Comparable {
    var line: Int
    var column: Int
    static func < (a: Position, b: Position) -> Bool { (a.line, a.column) < (b.line, b.column) }
}

/// A YAML text whose marks map back to the file: the file itself, or a block scalar's content inside another
/// frame (the SecretProviderClass `objects` string, and each `- |` item in it). A literal block scalar maps
/// exactly: its content starts on the line after the `|` and every line is indented by the same amount.
/// Other scalar styles fold or escape their text, so every position inside them is pinned to the scalar.
struct TextFrame {
    let lines: [Substring]
    let lineOffset: Int
    let columnOffset: Int
    let pinned: Position?

    /// The frame of a whole file.
    init(file text: String) {
        lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        lineOffset = 0; columnOffset = 0; pinned = nil
    }

    private init(lines: [Substring], lineOffset: Int, columnOffset: Int, pinned: Position?) {
        self.lines = lines; self.lineOffset = lineOffset; self.columnOffset = columnOffset; self.pinned = pinned
    }

    /// The file position of a mark in this frame's text.
    func position(_ mark: Mark?) -> Position {
        if let pinned { return pinned }
        guard let mark else { return Position(line: 1, column: 1) }
        return Position(line: mark.line + lineOffset, column: mark.column + columnOffset)
    }

    /// The frame of the YAML held by `scalar` (a node of this frame).
    func embedded(_ scalar: Node.Scalar) -> TextFrame {
        let here = position(scalar.mark)
        let content = scalar.string.split(separator: "\n", omittingEmptySubsequences: false)
        guard pinned == nil, scalar.style == .literal, let mark = scalar.mark else {
            return TextFrame(lines: content, lineOffset: 0, columnOffset: 0, pinned: here)
        }
        // The content's indentation is that of its first non-blank line in this frame's text.
        let following = lines.dropFirst(mark.line)
        let indent = following.first { !$0.allSatisfy(\.isWhitespace) }.map { $0.prefix { $0 == " " }.count } ?? 0
        return TextFrame(lines: content, lineOffset: lineOffset + mark.line, columnOffset: columnOffset + indent, pinned: nil)
    }
}
