import SwiftASN1

/// A tiny DER writer for the few structures this module builds (SubjectPublicKeyInfo, PrivateKeyInfo).
enum DEREncoding {
    /// One tag-length-value with a single-byte tag.
    static func tlv(_ tag: UInt8, _ content: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [tag]
        out += length(content.count)
        out += content
        return out
    }

    static func sequence(_ elements: [UInt8]...) -> [UInt8] {
        tlv(0x30, elements.flatMap { $0 })
    }

    /// A non-negative INTEGER from big-endian magnitude bytes, minimally encoded.
    static func unsignedInteger(_ magnitude: [UInt8]) -> [UInt8] {
        var bytes = Array(magnitude.drop { $0 == 0 })
        if bytes.isEmpty { bytes = [0] }
        if bytes[0] & 0x80 != 0 { bytes.insert(0, at: 0) }
        return tlv(0x02, bytes)
    }

    static func objectIdentifier(_ oid: ASN1ObjectIdentifier) -> [UInt8] {
        var serializer = DER.Serializer()
        // Serializing an OID into a fresh serializer cannot fail.
        try? serializer.serialize(oid)
        return serializer.serializedBytes
    }

    static func bitString(_ bytes: [UInt8]) -> [UInt8] { tlv(0x03, [0] + bytes) }
    static func octetString(_ bytes: [UInt8]) -> [UInt8] { tlv(0x04, bytes) }
    static let null: [UInt8] = [0x05, 0x00]

    /// Re-encodes a parsed node with definite lengths (turns BER indefinite lengths into DER-style lengths).
    static func encode(_ node: ASN1Node) -> [UInt8] {
        let content: [UInt8]
        switch node.content {
        case let .primitive(bytes): content = Array(bytes)
        case let .constructed(children): content = children.flatMap { encode($0) }
        }
        var out = identifierBytes(node)
        out += length(content.count)
        out += content
        return out
    }

    private static func identifierBytes(_ node: ASN1Node) -> [UInt8] {
        let classBits: UInt8
        switch node.identifier.tagClass {
        case .universal: classBits = 0x00
        case .application: classBits = 0x40
        case .contextSpecific: classBits = 0x80
        case .private: classBits = 0xC0
        }
        var first = classBits
        if case .constructed = node.content { first |= 0x20 }
        let number = node.identifier.tagNumber
        if number < 0x1F { return [first | UInt8(number)] }
        var tail: [UInt8] = [UInt8(number & 0x7F)]
        var rest = number >> 7
        while rest > 0 {
            tail.insert(UInt8(rest & 0x7F) | 0x80, at: 0)
            rest >>= 7
        }
        return [first | 0x1F] + tail
    }

    private static func length(_ count: Int) -> [UInt8] {
        if count < 0x80 { return [UInt8(count)] }
        var bytes: [UInt8] = []
        var rest = count
        while rest > 0 {
            bytes.insert(UInt8(rest & 0xFF), at: 0)
            rest >>= 8
        }
        return [0x80 | UInt8(bytes.count)] + bytes
    }
}
