import SwiftASN1

/// Small, total helpers for walking a BER/DER tree; every failure is a `PKCS12Error.malformed` naming the field.
enum ASN1Reading {
    static let contextZero = ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific)
    static let contextOne = ASN1Identifier(tagWithNumber: 1, tagClass: .contextSpecific)

    /// Parses BER (which includes DER) and maps parser errors to `malformed(field)`.
    static func parse(_ bytes: ArraySlice<UInt8>, field: String) throws(PKCS12Error) -> ASN1Node {
        do {
            return try BER.parse(bytes)
        } catch {
            throw .malformed(field: field)
        }
    }

    /// The children of a constructed node with the given tag.
    static func children(
        _ node: ASN1Node, tag: ASN1Identifier = .sequence, field: String
    ) throws(PKCS12Error) -> [ASN1Node] {
        guard node.identifier == tag, case let .constructed(nodes) = node.content else {
            throw .malformed(field: field)
        }
        return Array(nodes)
    }

    /// The children of a SEQUENCE, requiring at least `minimum` of them.
    static func sequence(_ node: ASN1Node, minimum: Int, field: String) throws(PKCS12Error) -> [ASN1Node] {
        let nodes = try children(node, field: field)
        guard nodes.count >= minimum else { throw .malformed(field: field) }
        return nodes
    }

    /// The single child of an EXPLICIT context tag `[number]`.
    static func explicit(_ node: ASN1Node, number: UInt, field: String) throws(PKCS12Error) -> ASN1Node {
        let tag = ASN1Identifier(tagWithNumber: number, tagClass: .contextSpecific)
        let nodes = try children(node, tag: tag, field: field)
        guard nodes.count == 1 else { throw .malformed(field: field) }
        return nodes[0]
    }

    static func objectIdentifier(_ node: ASN1Node, field: String) throws(PKCS12Error) -> ASN1ObjectIdentifier {
        do {
            return try ASN1ObjectIdentifier(derEncoded: node)
        } catch {
            throw .malformed(field: field)
        }
    }

    /// The value of an OCTET STRING (or of an implicitly tagged one), joining BER constructed segments.
    static func octets(
        _ node: ASN1Node, tag: ASN1Identifier = .octetString, field: String
    ) throws(PKCS12Error) -> [UInt8] {
        guard node.identifier == tag else { throw .malformed(field: field) }
        var result: [UInt8] = []
        try appendOctets(node, into: &result, field: field)
        return result
    }

    private static func appendOctets(_ node: ASN1Node, into result: inout [UInt8], field: String) throws(PKCS12Error) {
        switch node.content {
        case let .primitive(bytes):
            result.append(contentsOf: bytes)
        case let .constructed(segments):
            // BER segments of a constructed string are themselves OCTET STRINGs (X.690 §8.7.3).
            for segment in segments {
                guard segment.identifier == .octetString else { throw .malformed(field: field) }
                try appendOctets(segment, into: &result, field: field)
            }
        }
    }

    /// A non-negative INTEGER that fits in `Int`.
    static func integer(_ node: ASN1Node, field: String) throws(PKCS12Error) -> Int {
        guard node.identifier == .integer, case let .primitive(bytes) = node.content, let first = bytes.first else {
            throw .malformed(field: field)
        }
        guard first & 0x80 == 0 else { throw .malformed(field: field) }
        let significant = bytes.drop { $0 == 0 }
        guard significant.count <= 7 else { throw .malformed(field: field) }
        return significant.reduce(0) { ($0 << 8) | Int($1) }
    }

    /// An AlgorithmIdentifier: the OID and its optional parameters.
    static func algorithm(_ node: ASN1Node, field: String) throws(PKCS12Error) -> (oid: ASN1ObjectIdentifier, parameters: ASN1Node?) {
        let nodes = try sequence(node, minimum: 1, field: field)
        let oid = try objectIdentifier(nodes[0], field: field)
        return (oid, nodes.count > 1 ? nodes[1] : nil)
    }
}
