import Crypto
import Foundation
import SwiftASN1
import X509
import _CryptoExtras

/// A generated private key usable for signing certificates and exporting.
public struct KeyMaterial: Sendable {
    enum Backing: Sendable {
        case rsa(_RSA.Signing.PrivateKey)
        case p256(P256.Signing.PrivateKey)
        case p384(P384.Signing.PrivateKey)
        case p521(P521.Signing.PrivateKey)
    }

    /// The algorithm and size of this key.
    public let spec: KeySpec
    /// Public part as a JSON Web Key: RSA (kty, n, e) or EC (kty, crv, x, y), base64url without padding.
    public let publicJWK: [String: String]
    /// The unencrypted PKCS#8 PrivateKeyInfo DER encoding of the key.
    public let pkcs8DER: [UInt8]
    let backing: Backing

    init(backing: Backing) throws {
        self.backing = backing
        switch backing {
        case .rsa(let key):
            spec = .rsa(bits: key.keySizeInBits)
            let primitives = try key.publicKey.getKeyPrimitives()
            publicJWK = [
                "kty": "RSA",
                "n": CryptoEncoding.base64URL(CryptoEncoding.strippingLeadingZeros(primitives.modulus)),
                "e": CryptoEncoding.base64URL(CryptoEncoding.strippingLeadingZeros(primitives.publicExponent)),
            ]
            pkcs8DER = try PEMDocument(pemString: key.pkcs8PEMRepresentation).derBytes
        case .p256(let key):
            spec = .ec(curve: .p256)
            publicJWK = Self.ecJWK(curve: .p256, x963: Array(key.publicKey.x963Representation))
            pkcs8DER = Array(key.derRepresentation)
        case .p384(let key):
            spec = .ec(curve: .p384)
            publicJWK = Self.ecJWK(curve: .p384, x963: Array(key.publicKey.x963Representation))
            pkcs8DER = Array(key.derRepresentation)
        case .p521(let key):
            spec = .ec(curve: .p521)
            publicJWK = Self.ecJWK(curve: .p521, x963: Array(key.publicKey.x963Representation))
            pkcs8DER = Array(key.derRepresentation)
        }
    }

    /// Generates a fresh key; RSA sizes other than 2048/3072/4096 are rejected.
    public static func generate(_ spec: KeySpec) throws -> KeyMaterial {
        switch spec {
        case .rsa(let bits):
            let size: _RSA.Signing.KeySize
            switch bits {
            case 2048: size = .bits2048
            case 3072: size = .bits3072
            case 4096: size = .bits4096
            default: throw KeyMaterialError.unsupportedRSAKeySize(bits)
            }
            return try KeyMaterial(backing: .rsa(_RSA.Signing.PrivateKey(keySize: size)))
        case .ec(.p256):
            return try KeyMaterial(backing: .p256(P256.Signing.PrivateKey()))
        case .ec(.p384):
            return try KeyMaterial(backing: .p384(P384.Signing.PrivateKey()))
        case .ec(.p521):
            return try KeyMaterial(backing: .p521(P521.Signing.PrivateKey()))
        }
    }

    /// Loads a key from unencrypted PKCS#8 DER (RSA or EC P-256/P-384/P-521).
    public init(pkcs8DER der: [UInt8]) throws {
        let algorithm: ASN1ObjectIdentifier
        let parameter: ASN1ObjectIdentifier?
        do {
            (algorithm, parameter) = try Self.pkcs8Algorithm(der)
        } catch let error as KeyMaterialError {
            throw error
        } catch {
            throw KeyMaterialError.invalidEncoding("not a PKCS#8 PrivateKeyInfo: \(error)")
        }
        do {
            switch (algorithm, parameter) {
            case (Self.rsaEncryption, _):
                try self.init(backing: .rsa(_RSA.Signing.PrivateKey(derRepresentation: der)))
            case (Self.ecPublicKey, Self.prime256v1):
                try self.init(backing: .p256(P256.Signing.PrivateKey(derRepresentation: der)))
            case (Self.ecPublicKey, Self.secp384r1):
                try self.init(backing: .p384(P384.Signing.PrivateKey(derRepresentation: der)))
            case (Self.ecPublicKey, Self.secp521r1):
                try self.init(backing: .p521(P521.Signing.PrivateKey(derRepresentation: der)))
            case (Self.ecPublicKey, let curve):
                throw KeyMaterialError.unsupportedAlgorithm("EC curve \(curve.map { "\($0)" } ?? "missing")")
            default:
                throw KeyMaterialError.unsupportedAlgorithm("\(algorithm)")
            }
        } catch let error as KeyMaterialError {
            throw error
        } catch {
            throw KeyMaterialError.invalidEncoding("\(error)")
        }
    }

    /// Loads a key from a "-----BEGIN PRIVATE KEY-----" PEM block.
    public init(pkcs8PEM pem: String) throws {
        let document: PEMDocument
        do {
            document = try PEMDocument(pemString: pem)
        } catch {
            throw KeyMaterialError.invalidEncoding("not a PEM document: \(error)")
        }
        guard document.discriminator == "PRIVATE KEY" else {
            throw KeyMaterialError.invalidEncoding("expected a PRIVATE KEY PEM block, found \(document.discriminator)")
        }
        try self.init(pkcs8DER: document.derBytes)
    }

    /// The key wrapped for swift-certificates, for signing certificates.
    public var privateKey: Certificate.PrivateKey {
        switch backing {
        case .rsa(let key): return Certificate.PrivateKey(key)
        case .p256(let key): return Certificate.PrivateKey(key)
        case .p384(let key): return Certificate.PrivateKey(key)
        case .p521(let key): return Certificate.PrivateKey(key)
        }
    }

    /// The PKCS#8 key as a "-----BEGIN PRIVATE KEY-----" PEM block.
    public var pkcs8PEM: String {
        CryptoEncoding.pem(label: "PRIVATE KEY", der: pkcs8DER)
    }

    static let rsaEncryption: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 1, 1, 1]
    static let ecPublicKey: ASN1ObjectIdentifier = [1, 2, 840, 10045, 2, 1]
    static let prime256v1: ASN1ObjectIdentifier = [1, 2, 840, 10045, 3, 1, 7]
    static let secp384r1: ASN1ObjectIdentifier = [1, 3, 132, 0, 34]
    static let secp521r1: ASN1ObjectIdentifier = [1, 3, 132, 0, 35]

    private static func ecJWK(curve: ECCurve, x963: [UInt8]) -> [String: String] {
        // x963 is 0x04 || X || Y with each coordinate already padded to the field size.
        let size = curve.coordinateByteCount
        let x = x963[1..<(1 + size)]
        let y = x963[(1 + size)...]
        return [
            "kty": "EC",
            "crv": curve.rawValue,
            "x": CryptoEncoding.base64URL(x),
            "y": CryptoEncoding.base64URL(y),
        ]
    }

    /// Reads the algorithm OID (and EC named-curve OID, if any) out of a PrivateKeyInfo.
    private static func pkcs8Algorithm(_ der: [UInt8]) throws -> (ASN1ObjectIdentifier, ASN1ObjectIdentifier?) {
        let root = try DER.parse(der)
        guard case .constructed(let fields) = root.content else {
            throw KeyMaterialError.invalidEncoding("PrivateKeyInfo is not a SEQUENCE")
        }
        var iterator = fields.makeIterator()
        guard iterator.next() != nil, let algorithmNode = iterator.next(),
            case .constructed(let algorithmFields) = algorithmNode.content
        else {
            throw KeyMaterialError.invalidEncoding("PrivateKeyInfo has no AlgorithmIdentifier")
        }
        var algorithmIterator = algorithmFields.makeIterator()
        guard let oidNode = algorithmIterator.next() else {
            throw KeyMaterialError.invalidEncoding("AlgorithmIdentifier is empty")
        }
        let oid = try ASN1ObjectIdentifier(derEncoded: oidNode)
        let parameter = algorithmIterator.next().flatMap { try? ASN1ObjectIdentifier(derEncoded: $0) }
        return (oid, parameter)
    }
}
