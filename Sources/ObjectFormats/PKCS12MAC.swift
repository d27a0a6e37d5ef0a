import Crypto
import SwiftASN1

/// The PFX integrity MAC (RFC 7292 §5.1 / Appendix B): HMAC keyed by the PKCS#12 KDF with ID 3.
struct PKCS12MAC {
    enum Digest { case sha1, sha256, sha384, sha512 }

    let digest: Digest
    let expected: [UInt8]
    let salt: [UInt8]
    let iterations: Int

    /// Parses MacData ::= SEQUENCE { mac DigestInfo, macSalt OCTET STRING, iterations INTEGER DEFAULT 1 }.
    init(_ node: ASN1Node) throws(PKCS12Error) {
        let field = "PFX.macData"
        let nodes = try ASN1Reading.sequence(node, minimum: 2, field: field)
        let digestInfo = try ASN1Reading.sequence(nodes[0], minimum: 2, field: "\(field).mac")
        let algorithm = try ASN1Reading.algorithm(digestInfo[0], field: "\(field).mac.digestAlgorithm")
        switch algorithm.oid {
        case OID.sha1: digest = .sha1
        case OID.sha256: digest = .sha256
        case OID.sha384: digest = .sha384
        case OID.sha512: digest = .sha512
        default:
            // Includes PBMAC1 (RFC 9579), which OpenSSL 3.4+ writes only when asked to.
            throw .unsupportedAlgorithm(oid: algorithm.oid.description, field: "\(field).mac.digestAlgorithm")
        }
        expected = try ASN1Reading.octets(digestInfo[1], field: "\(field).mac.digest")
        salt = try ASN1Reading.octets(nodes[1], field: "\(field).macSalt")
        iterations = nodes.count > 2 ? try ASN1Reading.integer(nodes[2], field: "\(field).iterations") : 1
    }

    /// True when the MAC over `authSafe` verifies under `password` (BMPString bytes).
    func verify(_ authSafe: [UInt8], password: [UInt8], budget: inout PKCS12WorkBudget) throws(PKCS12Error) -> Bool {
        try budget.charge(iterations, field: "PFX.macData.iterations")
        switch digest {
        case .sha1: return check(Insecure.SHA1.self, authSafe, password)
        case .sha256: return check(SHA256.self, authSafe, password)
        case .sha384: return check(SHA384.self, authSafe, password)
        case .sha512: return check(SHA512.self, authSafe, password)
        }
    }

    private func check<H: HashFunction>(_ hash: H.Type, _ authSafe: [UInt8], _ password: [UInt8]) -> Bool {
        guard expected.count == H.Digest.byteCount else { return false }
        let key = PKCS12KeyDerivation.derive(
            hash, purpose: .macKey, password: password, salt: salt, iterations: iterations, count: H.Digest.byteCount)
        return HMAC<H>.isValidAuthenticationCode(expected, authenticating: authSafe, using: SymmetricKey(data: key))
    }
}
