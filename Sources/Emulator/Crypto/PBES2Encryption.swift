import Crypto
import SwiftASN1
import _CryptoExtras

/// PBES2 (RFC 8018) with PBKDF2-HMAC-SHA256 and AES-256-CBC, as OpenSSL 3 uses by default for PKCS#12 keys.
enum PBES2Encryption {
    static let pbes2: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 1, 5, 13]
    static let pbkdf2: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 1, 5, 12]
    static let hmacWithSHA256: ASN1ObjectIdentifier = [1, 2, 840, 113_549, 2, 9]
    static let aes256CBC: ASN1ObjectIdentifier = [2, 16, 840, 1, 101, 3, 4, 1, 42]

    /// Encrypts `plaintext` with a key derived from the UTF-8 `password`; returns the DER AlgorithmIdentifier and ciphertext.
    static func encrypt(
        _ plaintext: [UInt8], password: String, iterations: Int = 2048
    ) throws -> (algorithmIdentifierDER: [UInt8], ciphertext: [UInt8]) {
        let salt = CryptoEncoding.randomBytes(16)
        let iv = CryptoEncoding.randomBytes(16)
        let ciphertext: [UInt8]
        do {
            let key = try KDF.Insecure.PBKDF2.deriveKey(
                from: Array(password.utf8), salt: salt, using: .sha256, outputByteCount: 32,
                unsafeUncheckedRounds: iterations)
            ciphertext = Array(try AES._CBC.encrypt(plaintext, using: key, iv: AES._CBC.IV(ivBytes: iv)))
        } catch {
            throw PKCS12Error.encryptionFailed("\(error)")
        }

        var serializer = DER.Serializer()
        try serializer.appendConstructedNode(identifier: .sequence) { algorithm in
            try algorithm.serialize(pbes2)
            try algorithm.appendConstructedNode(identifier: .sequence) { parameters in
                try parameters.appendConstructedNode(identifier: .sequence) { kdf in
                    try kdf.serialize(pbkdf2)
                    try kdf.appendConstructedNode(identifier: .sequence) { kdfParameters in
                        try kdfParameters.serialize(ASN1OctetString(contentBytes: ArraySlice(salt)))
                        try kdfParameters.serialize(iterations)
                        try kdfParameters.appendConstructedNode(identifier: .sequence) { prf in
                            try prf.serialize(hmacWithSHA256)
                            try prf.serialize(ASN1Null())
                        }
                    }
                }
                try parameters.appendConstructedNode(identifier: .sequence) { cipher in
                    try cipher.serialize(aes256CBC)
                    try cipher.serialize(ASN1OctetString(contentBytes: ArraySlice(iv)))
                }
            }
        }
        return (serializer.serializedBytes, ciphertext)
    }
}
