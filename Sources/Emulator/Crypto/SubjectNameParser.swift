import SwiftASN1
import X509

/// Parses Key Vault subject strings ("CN=x, O=Org, C=US") into X.509 distinguished names.
enum SubjectNameParser {
    /// Parses `subject`; the left-most attribute becomes the last (most specific) RDN, as in RFC 4514.
    static func parse(_ subject: String) throws -> DistinguishedName {
        let components = try split(subject)
        guard !components.isEmpty else {
            throw CertificateRequestError.invalidSubject(field: "subject", reason: "subject is empty")
        }
        var rdns: [RelativeDistinguishedName] = []
        for component in components {
            guard let equals = component.firstIndex(of: "=") else {
                throw CertificateRequestError.invalidSubject(field: component, reason: "expected KEY=VALUE")
            }
            let key = component[..<equals].trimmingSpaces()
            let value = component[component.index(after: equals)...].trimmingSpaces()
            guard !key.isEmpty else {
                throw CertificateRequestError.invalidSubject(field: component, reason: "missing attribute name")
            }
            guard !value.isEmpty else {
                throw CertificateRequestError.invalidSubject(field: key, reason: "value is empty")
            }
            rdns.append(RelativeDistinguishedName(try attribute(key: key, value: value)))
        }
        return DistinguishedName(rdns.reversed())
    }

    private static func attribute(key: String, value: String) throws -> RelativeDistinguishedName.Attribute {
        switch key.uppercased() {
        case "CN":
            return .init(type: .RDNAttributeType.commonName, utf8String: value)
        case "O":
            return .init(type: .RDNAttributeType.organizationName, utf8String: value)
        case "OU":
            return .init(type: .RDNAttributeType.organizationalUnitName, utf8String: value)
        case "L":
            return .init(type: .RDNAttributeType.localityName, utf8String: value)
        case "ST", "S":
            return .init(type: .RDNAttributeType.stateOrProvinceName, utf8String: value)
        case "C":
            guard value.count == 2, value.allSatisfy({ $0.isASCII && $0.isLetter }) else {
                throw CertificateRequestError.invalidSubject(field: key, reason: "country must be a two-letter code, got '\(value)'")
            }
            return try .init(type: .RDNAttributeType.countryName, printableString: value.uppercased())
        default:
            throw CertificateRequestError.invalidSubject(field: key, reason: "unsupported attribute; use CN, O, OU, C, L or ST")
        }
    }

    /// Splits on unescaped ',' or ';' outside double quotes, resolving '\x' escapes and quotes.
    private static func split(_ subject: String) throws -> [String] {
        var components: [String] = []
        var current = ""
        var inQuotes = false
        var escaping = false
        for character in subject {
            if escaping {
                current.append(character)
                escaping = false
            } else if character == "\\" {
                escaping = true
            } else if character == "\"" {
                inQuotes.toggle()
            } else if !inQuotes && (character == "," || character == ";") {
                components.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        if escaping || inQuotes {
            throw CertificateRequestError.invalidSubject(
                field: current.trimmingSpaces(), reason: escaping ? "dangling escape" : "unterminated quote")
        }
        components.append(current)
        let trimmed = components.map { $0.trimmingSpaces() }
        if trimmed.count == 1 && trimmed[0].isEmpty { return [] }
        if let emptyIndex = trimmed.firstIndex(where: { $0.isEmpty }) {
            throw CertificateRequestError.invalidSubject(
                field: "component \(emptyIndex + 1)", reason: "empty component between separators")
        }
        return trimmed
    }
}

extension StringProtocol {
    fileprivate func trimmingSpaces() -> String {
        String(drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }
}
