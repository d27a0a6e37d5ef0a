/// RFC 7468 PEM text encoding.
public enum PEM {
    /// Encodes `der` as a PEM block with 64-column base64 lines and a trailing newline.
    public static func encode(label: String, der: [UInt8]) -> String {
        let body = Array(Base64.encode(der).utf8)
        var text = "-----BEGIN \(label)-----\n"
        var offset = 0
        while offset < body.count {
            let end = min(offset + 64, body.count)
            text += String(decoding: body[offset..<end], as: UTF8.self)
            text += "\n"
            offset = end
        }
        text += "-----END \(label)-----\n"
        return text
    }

    /// Every well-formed PEM block in `text`, in order; text outside blocks, RFC 1421 headers and blocks whose body is not base64 are skipped.
    public static func decodeAll(_ text: String) -> [(label: String, der: [UInt8])] {
        var blocks: [(label: String, der: [UInt8])] = []
        var lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }[...]
        while let line = lines.popFirst() {
            guard let label = boundaryLabel(line, kind: "BEGIN") else { continue }
            var body = ""
            var inHeaders = true
            var closed = false
            while let inner = lines.popFirst() {
                if let endLabel = boundaryLabel(inner, kind: "END") {
                    closed = endLabel == label
                    break
                }
                let trimmed = inner.trimmingWhitespace()
                if inHeaders && trimmed.contains(":") { continue }
                if inHeaders && trimmed.isEmpty { continue }
                inHeaders = false
                body += trimmed.filter { !$0.isWhitespace }
            }
            guard closed, let der = try? Base64.decodeStandard(body) else { continue }
            blocks.append((label: label, der: der))
        }
        return blocks
    }

    /// Splits PEM text into certificate blocks and every other block (keys), re-encoded, as the provider's
    /// `--write-cert-and-key-in-separate-files` does for `<file>.crt` and `<file>.key`.
    public static func splitCertificatesAndKeys(_ text: String) -> (certificates: String, keys: String) {
        var certificates = ""
        var keys = ""
        for block in decodeAll(text) {
            if block.label == "CERTIFICATE" {
                certificates += encode(label: block.label, der: block.der)
            } else {
                keys += encode(label: block.label, der: block.der)
            }
        }
        return (certificates, keys)
    }

    /// The label of a "-----BEGIN X-----" or "-----END X-----" line.
    private static func boundaryLabel(_ line: Substring, kind: String) -> String? {
        let trimmed = line.trimmingWhitespace()
        let prefix = "-----\(kind) "
        guard trimmed.hasPrefix(prefix), trimmed.hasSuffix("-----"), trimmed.count >= prefix.count + 5 else {
            return nil
        }
        return String(trimmed.dropFirst(prefix.count).dropLast(5))
    }
}

extension Substring {
    func trimmingWhitespace() -> Substring {
        var result = self
        while let first = result.first, first.isWhitespace { result = result.dropFirst() }
        while let last = result.last, last.isWhitespace { result = result.dropLast() }
        return result
    }
}
