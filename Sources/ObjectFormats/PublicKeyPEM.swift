import Crypto
import SwiftASN1

/// Writes a Key Vault JSON Web Key's public half as a PEM "PUBLIC KEY" (SubjectPublicKeyInfo), as the provider does for objectType: key.
public enum PublicKeyPEM {
    /// Builds "-----BEGIN PUBLIC KEY-----" PEM from JWK fields (base64url): n and e for RSA/RSA-HSM, crv, x and y for EC/EC-HSM.
    public static func fromJWK(
        kty: String, n: String? = nil, e: String? = nil, crv: String? = nil, x: String? = nil, y: String? = nil
    ) throws(PublicKeyPEMError) -> String {
        switch kty {
        case "RSA", "RSA-HSM":
            let modulus = try field("n", n, kty)
            let exponent = try field("e", e, kty)
            return PEM.encode(label: "PUBLIC KEY", der: rsaSubjectPublicKeyInfo(modulus: modulus, exponent: exponent))
        case "EC", "EC-HSM":
            guard let crv, !crv.isEmpty else { throw .missingField("crv", keyType: kty) }
            let curve = try Curve(crv)
            let xBytes = try coordinate("x", x, kty, curve)
            let yBytes = try coordinate("y", y, kty, curve)
            let point = [0x04] + xBytes + yBytes
            guard curve.isOnCurve(point) else { throw .pointNotOnCurve(curve: curve.name) }
            let der = DEREncoding.sequence(
                DEREncoding.sequence(
                    DEREncoding.objectIdentifier(OID.ecPublicKey), DEREncoding.objectIdentifier(curve.oid)),
                DEREncoding.bitString(point))
            return PEM.encode(label: "PUBLIC KEY", der: der)
        default:
            throw .unsupportedKeyType(kty)
        }
    }

    /// SubjectPublicKeyInfo { rsaEncryption NULL, BIT STRING RSAPublicKey { n, e } }.
    private static func rsaSubjectPublicKeyInfo(modulus: [UInt8], exponent: [UInt8]) -> [UInt8] {
        let rsaPublicKey = DEREncoding.sequence(
            DEREncoding.unsignedInteger(modulus), DEREncoding.unsignedInteger(exponent))
        return DEREncoding.sequence(
            DEREncoding.sequence(DEREncoding.objectIdentifier(OID.rsaEncryption), DEREncoding.null),
            DEREncoding.bitString(rsaPublicKey))
    }

    /// A required, non-zero base64url field.
    private static func field(_ name: String, _ value: String?, _ kty: String) throws(PublicKeyPEMError) -> [UInt8] {
        guard let value, !value.isEmpty else { throw .missingField(name, keyType: kty) }
        let bytes: [UInt8]
        do {
            bytes = try Base64.decodeURL(value)
        } catch {
            throw .invalidBase64URL(field: name)
        }
        guard bytes.contains(where: { $0 != 0 }) else { throw .missingField(name, keyType: kty) }
        return bytes
    }

    /// A coordinate left-padded with zeros to the curve's field size.
    private static func coordinate(
        _ name: String, _ value: String?, _ kty: String, _ curve: Curve
    ) throws(PublicKeyPEMError) -> [UInt8] {
        guard let value, !value.isEmpty else { throw .missingField(name, keyType: kty) }
        let bytes: [UInt8]
        do {
            bytes = try Base64.decodeURL(value)
        } catch {
            throw .invalidBase64URL(field: name)
        }
        let significant = Array(bytes.drop { $0 == 0 })
        guard significant.count <= curve.fieldBytes else { throw .coordinateTooLong(field: name, curve: curve.name) }
        return [UInt8](repeating: 0, count: curve.fieldBytes - significant.count) + significant
    }

    private enum Curve {
        case p256, p384, p521

        init(_ name: String) throws(PublicKeyPEMError) {
            switch name {
            case "P-256": self = .p256
            case "P-384": self = .p384
            case "P-521": self = .p521
            default: throw .unsupportedCurve(name)
            }
        }

        var name: String {
            switch self {
            case .p256: return "P-256"
            case .p384: return "P-384"
            case .p521: return "P-521"
            }
        }

        var fieldBytes: Int {
            switch self {
            case .p256: return 32
            case .p384: return 48
            case .p521: return 66
            }
        }

        var oid: ASN1ObjectIdentifier {
            switch self {
            case .p256: return OID.secp256r1
            case .p384: return OID.secp384r1
            case .p521: return OID.secp521r1
            }
        }

        /// Validates an uncompressed point with swift-crypto, which rejects points off the curve.
        func isOnCurve(_ point: [UInt8]) -> Bool {
            switch self {
            case .p256: return (try? P256.Signing.PublicKey(x963Representation: point)) != nil
            case .p384: return (try? P384.Signing.PublicKey(x963Representation: point)) != nil
            case .p521: return (try? P521.Signing.PublicKey(x963Representation: point)) != nil
            }
        }
    }
}
