import SwiftASN1

/// PKCS#8 PrivateKeyInfo checks and the canonical form written to PEM files.
enum PrivateKeyInfo {
    /// Checks the outline of PrivateKeyInfo ::= SEQUENCE { version INTEGER, privateKeyAlgorithm AlgorithmIdentifier, privateKey OCTET STRING, ... }.
    static func validate(_ node: ASN1Node, field: String) throws(PKCS12Error) {
        let nodes = try ASN1Reading.sequence(node, minimum: 3, field: field)
        let version = try ASN1Reading.integer(nodes[0], field: "\(field).version")
        guard version <= 1 else { throw .malformed(field: "\(field).version") }
        _ = try ASN1Reading.algorithm(nodes[1], field: "\(field).privateKeyAlgorithm")
        _ = try ASN1Reading.octets(nodes[2], field: "\(field).privateKey")
    }

    /// Re-encodes a PKCS#8 key as version 0 with only the algorithm and key, dropping attributes and the
    /// optional public key, the way OpenSSL and Go write "PRIVATE KEY" PEM blocks.
    static func canonical(_ der: [UInt8]) throws(PKCS12Error) -> [UInt8] {
        let field = "privateKey"
        let node = try ASN1Reading.parse(der[...], field: field)
        try validate(node, field: field)
        let nodes = try ASN1Reading.sequence(node, minimum: 3, field: field)
        let algorithm = DEREncoding.encode(nodes[1])
        let key = try ASN1Reading.octets(nodes[2], field: "\(field).privateKey")
        return DEREncoding.sequence(DEREncoding.unsignedInteger([0]), algorithm, DEREncoding.octetString(key))
    }
}
