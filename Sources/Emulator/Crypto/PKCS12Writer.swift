import Crypto
import SwiftASN1

/// Minimal PKCS#12 writer (RFC 7292).
public enum PKCS12Writer {
    static let data: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 1, 7, 1]
    static let pkcs8ShroudedKeyBag: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 1, 12, 10, 1, 2]
    static let certBag: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 1, 12, 10, 1, 3]
    static let x509Certificate: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 1, 9, 22, 1]
    static let friendlyNameAttribute: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 1, 9, 20]
    static let localKeyIdAttribute: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 1, 9, 21]
    static let sha256: ASN1ObjectIdentifier = [2, 16, 840, 1, 101, 3, 4, 2, 1]
    static let iterations = 2048

    /// Builds a PFX: a PBES2-encrypted key bag and plain certificate bags (first certificate = leaf), MACed with HMAC-SHA256.
    public static func build(
        privateKeyPKCS8: [UInt8], certificates: [[UInt8]], password: String = "", friendlyName: String? = nil
    ) throws -> [UInt8] {
        guard let leaf = certificates.first else { throw PKCS12Error.noCertificates }
        do {
            _ = try DER.parse(privateKeyPKCS8)
        } catch {
            throw PKCS12Error.invalidPrivateKey("\(error)")
        }
        let localKeyId = Array(Insecure.SHA1.hash(data: leaf))
        var leafAttributes = [Attribute.localKeyId(localKeyId)]
        if let friendlyName { leafAttributes.append(.friendlyName(friendlyName)) }

        // SafeContents 1: the shrouded key.
        let encrypted = try PBES2Encryption.encrypt(privateKeyPKCS8, password: password, iterations: iterations)
        let keyContents = try encode { safeContents in
            try safeContents.appendConstructedNode(identifier: .sequence) { bags in
                try bags.appendConstructedNode(identifier: .sequence) { bag in
                    try bag.serialize(pkcs8ShroudedKeyBag)
                    try bag.serialize(explicitlyTaggedWithTagNumber: 0, tagClass: .contextSpecific) { value in
                        try value.appendConstructedNode(identifier: .sequence) { info in
                            info.serializeRawBytes(encrypted.algorithmIdentifierDER)
                            try info.serialize(ASN1OctetString(contentBytes: ArraySlice(encrypted.ciphertext)))
                        }
                    }
                    try bag.serializeSetOf(leafAttributes)
                }
            }
        }

        // SafeContents 2: the certificates, leaf first.
        let certificateContents = try encode { safeContents in
            try safeContents.appendConstructedNode(identifier: .sequence) { bags in
                for (index, certificate) in certificates.enumerated() {
                    try bags.appendConstructedNode(identifier: .sequence) { bag in
                        try bag.serialize(certBag)
                        try bag.serialize(explicitlyTaggedWithTagNumber: 0, tagClass: .contextSpecific) { value in
                            try value.appendConstructedNode(identifier: .sequence) { certificateBag in
                                try certificateBag.serialize(x509Certificate)
                                try certificateBag.serialize(
                                    ASN1OctetString(contentBytes: ArraySlice(certificate)),
                                    explicitlyTaggedWithTagNumber: 0, tagClass: .contextSpecific)
                            }
                        }
                        if index == 0 { try bag.serializeSetOf(leafAttributes) }
                    }
                }
            }
        }

        let authenticatedSafe = try encode { safe in
            try safe.appendConstructedNode(identifier: .sequence) { contentInfos in
                try serializeDataContentInfo(keyContents, into: &contentInfos)
                try serializeDataContentInfo(certificateContents, into: &contentInfos)
            }
        }

        let macSalt = CryptoEncoding.randomBytes(16)
        let macKey = PKCS12KeyDerivation.derive(
            password: PKCS12KeyDerivation.bmpPassword(password), salt: macSalt, purpose: .macKey,
            iterations: iterations, count: PKCS12KeyDerivation.u)
        let mac = Array(HMAC<SHA256>.authenticationCode(for: authenticatedSafe, using: SymmetricKey(data: macKey)))

        return try encode { pfx in
            try pfx.appendConstructedNode(identifier: .sequence) { fields in
                try fields.serialize(3)
                try serializeDataContentInfo(authenticatedSafe, into: &fields)
                try fields.appendConstructedNode(identifier: .sequence) { macData in
                    try macData.appendConstructedNode(identifier: .sequence) { digestInfo in
                        try digestInfo.appendConstructedNode(identifier: .sequence) { algorithm in
                            try algorithm.serialize(sha256)
                            try algorithm.serialize(ASN1Null())
                        }
                        try digestInfo.serialize(ASN1OctetString(contentBytes: ArraySlice(mac)))
                    }
                    try macData.serialize(ASN1OctetString(contentBytes: ArraySlice(macSalt)))
                    try macData.serialize(iterations)
                }
            }
        }
    }

    /// ContentInfo { id-data, [0] EXPLICIT OCTET STRING content }.
    private static func serializeDataContentInfo(_ content: [UInt8], into serializer: inout DER.Serializer) throws {
        try serializer.appendConstructedNode(identifier: .sequence) { contentInfo in
            try contentInfo.serialize(data)
            try contentInfo.serialize(
                ASN1OctetString(contentBytes: ArraySlice(content)),
                explicitlyTaggedWithTagNumber: 0, tagClass: .contextSpecific)
        }
    }

    private static func encode(_ body: (inout DER.Serializer) throws -> Void) throws -> [UInt8] {
        var serializer = DER.Serializer()
        try body(&serializer)
        return serializer.serializedBytes
    }

    /// A PKCS#12 bag attribute: SEQUENCE { attrId, SET OF value }.
    enum Attribute: DERSerializable {
        case localKeyId([UInt8])
        case friendlyName(String)

        func serialize(into coder: inout DER.Serializer) throws {
            try coder.appendConstructedNode(identifier: .sequence) { attribute in
                switch self {
                case .localKeyId(let identifier):
                    try attribute.serialize(PKCS12Writer.localKeyIdAttribute)
                    try attribute.appendConstructedNode(identifier: .set) { values in
                        try values.serialize(ASN1OctetString(contentBytes: ArraySlice(identifier)))
                    }
                case .friendlyName(let name):
                    try attribute.serialize(PKCS12Writer.friendlyNameAttribute)
                    try attribute.appendConstructedNode(identifier: .set) { values in
                        let utf16 = name.utf16.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
                        try values.serialize(ASN1BMPString(contentBytes: ArraySlice(utf16)))
                    }
                }
            }
        }
    }
}
