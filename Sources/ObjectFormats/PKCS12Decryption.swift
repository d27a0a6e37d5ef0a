import Crypto
import _CryptoExtras
import Foundation
import SwiftASN1

/// Password-based decryption of PKCS#12 bags and encrypted SafeContents.
enum PKCS12Decryption {
    /// Decrypts `ciphertext` with the algorithm named by the AlgorithmIdentifier `algorithm`.
    static func decrypt(
        _ ciphertext: [UInt8], algorithm: ASN1Node, password: PFXPassword,
        budget: inout PKCS12WorkBudget, field: String
    ) throws(PKCS12Error) -> [UInt8] {
        let (oid, parameters) = try ASN1Reading.algorithm(algorithm, field: "\(field).algorithm")
        switch oid {
        case OID.pbeWithSHAAnd3KeyTripleDESCBC:
            return try legacy(ciphertext, parameters, keyLength: 24, password, &budget, field) { key in
                TripleDES(key: key)
            }
        case OID.pbeWithSHAAnd2KeyTripleDESCBC:
            return try legacy(ciphertext, parameters, keyLength: 16, password, &budget, field) { key in
                TripleDES(key: key)
            }
        case OID.pbeWithSHAAnd128BitRC2CBC:
            return try legacy(ciphertext, parameters, keyLength: 16, password, &budget, field) { key in
                RC2(key: key, effectiveBits: 128)
            }
        case OID.pbeWithSHAAnd40BitRC2CBC:
            return try legacy(ciphertext, parameters, keyLength: 5, password, &budget, field) { key in
                RC2(key: key, effectiveBits: 40)
            }
        case OID.pbes2:
            return try pbes2(ciphertext, parameters, password, &budget, field)
        default:
            throw .unsupportedAlgorithm(oid: oid.description, field: "\(field).algorithm")
        }
    }

    /// PKCS#12 PBE (RFC 7292 Appendix C): SHA-1 KDF with ID 1 for the key and ID 2 for the IV.
    private static func legacy<Cipher: BlockDecrypting>(
        _ ciphertext: [UInt8], _ parameters: ASN1Node?, keyLength: Int, _ password: PFXPassword,
        _ budget: inout PKCS12WorkBudget, _ field: String, makeCipher: ([UInt8]) -> Cipher?
    ) throws(PKCS12Error) -> [UInt8] {
        let paramsField = "\(field).algorithm.parameters"
        guard let parameters else { throw .malformed(field: paramsField) }
        let nodes = try ASN1Reading.sequence(parameters, minimum: 2, field: paramsField)
        let salt = try ASN1Reading.octets(nodes[0], field: "\(paramsField).salt")
        let iterations = try ASN1Reading.integer(nodes[1], field: "\(paramsField).iterations")
        // Key and IV are two derivations.
        try budget.charge(iterations, field: "\(paramsField).iterations")
        try budget.charge(iterations, field: "\(paramsField).iterations")
        let key = PKCS12KeyDerivation.derive(
            Insecure.SHA1.self, purpose: .encryptionKey, password: password.bmp, salt: salt,
            iterations: iterations, count: keyLength)
        let iv = PKCS12KeyDerivation.derive(
            Insecure.SHA1.self, purpose: .initializationVector, password: password.bmp, salt: salt,
            iterations: iterations, count: 8)
        guard let cipher = makeCipher(key) else { throw .malformed(field: paramsField) }
        do {
            return try CBCDecryption.decrypt(ciphertext, iv: iv, cipher: cipher)
        } catch {
            throw .decryptionFailed(field: field)
        }
    }

    /// PBES2 (RFC 8018 §6.2) with PBKDF2 and AES-CBC or DES-EDE3-CBC; the password is used as UTF-8.
    private static func pbes2(
        _ ciphertext: [UInt8], _ parameters: ASN1Node?, _ password: PFXPassword,
        _ budget: inout PKCS12WorkBudget, _ field: String
    ) throws(PKCS12Error) -> [UInt8] {
        let paramsField = "\(field).algorithm.parameters"
        guard let parameters else { throw .malformed(field: paramsField) }
        let nodes = try ASN1Reading.sequence(parameters, minimum: 2, field: paramsField)

        let kdf = try ASN1Reading.algorithm(nodes[0], field: "\(paramsField).keyDerivationFunc")
        guard kdf.oid == OID.pbkdf2 else {
            throw .unsupportedAlgorithm(oid: kdf.oid.description, field: "\(paramsField).keyDerivationFunc")
        }
        let scheme = try ASN1Reading.algorithm(nodes[1], field: "\(paramsField).encryptionScheme")
        let keyLength: Int
        let blockSize: Int
        switch scheme.oid {
        case OID.aes128CBC: (keyLength, blockSize) = (16, 16)
        case OID.aes192CBC: (keyLength, blockSize) = (24, 16)
        case OID.aes256CBC: (keyLength, blockSize) = (32, 16)
        case OID.desEDE3CBC: (keyLength, blockSize) = (24, 8)
        default:
            throw .unsupportedAlgorithm(oid: scheme.oid.description, field: "\(paramsField).encryptionScheme")
        }
        guard let ivNode = scheme.parameters else { throw .malformed(field: "\(paramsField).encryptionScheme.iv") }
        let iv = try ASN1Reading.octets(ivNode, field: "\(paramsField).encryptionScheme.iv")
        guard iv.count == blockSize else { throw .malformed(field: "\(paramsField).encryptionScheme.iv") }

        let key = try pbkdf2(kdf.parameters, password: password.utf8, keyLength: keyLength, &budget, "\(paramsField).keyDerivationFunc")

        if blockSize == 8 {
            guard let cipher = TripleDES(key: key) else { throw .malformed(field: paramsField) }
            do {
                return try CBCDecryption.decrypt(ciphertext, iv: iv, cipher: cipher)
            } catch {
                throw .decryptionFailed(field: field)
            }
        }
        guard !ciphertext.isEmpty, ciphertext.count % 16 == 0 else { throw .decryptionFailed(field: field) }
        do {
            let ivValue = try AES._CBC.IV(ivBytes: iv)
            let plaintext = try AES._CBC.decrypt(ciphertext, using: SymmetricKey(data: key), iv: ivValue, noPadding: true)
            return try CBCDecryption.unpad(Array(plaintext), blockSize: 16)
        } catch {
            throw .decryptionFailed(field: field)
        }
    }

    /// PBKDF2-params ::= SEQUENCE { salt OCTET STRING, iterationCount INTEGER, keyLength INTEGER OPTIONAL, prf AlgorithmIdentifier DEFAULT hmacWithSHA1 }
    private static func pbkdf2(
        _ parameters: ASN1Node?, password: [UInt8], keyLength: Int,
        _ budget: inout PKCS12WorkBudget, _ field: String
    ) throws(PKCS12Error) -> [UInt8] {
        let paramsField = "\(field).parameters"
        guard let parameters else { throw .malformed(field: paramsField) }
        let nodes = try ASN1Reading.sequence(parameters, minimum: 2, field: paramsField)
        guard nodes[0].identifier == .octetString else {
            // The otherSource alternative of the salt CHOICE is reserved and unused in practice.
            throw .malformed(field: "\(paramsField).salt")
        }
        let salt = try ASN1Reading.octets(nodes[0], field: "\(paramsField).salt")
        let iterations = try ASN1Reading.integer(nodes[1], field: "\(paramsField).iterationCount")
        try budget.charge(iterations, field: "\(paramsField).iterationCount")

        var hash = KDF.Insecure.PBKDF2.HashFunction.insecureSHA1
        for node in nodes.dropFirst(2) {
            if node.identifier == .integer {
                let declared = try ASN1Reading.integer(node, field: "\(paramsField).keyLength")
                guard declared == keyLength else { throw .malformed(field: "\(paramsField).keyLength") }
            } else {
                let prf = try ASN1Reading.algorithm(node, field: "\(paramsField).prf")
                switch prf.oid {
                case OID.hmacWithSHA1: hash = .insecureSHA1
                case OID.hmacWithSHA256: hash = .sha256
                case OID.hmacWithSHA384: hash = .sha384
                case OID.hmacWithSHA512: hash = .sha512
                default: throw .unsupportedAlgorithm(oid: prf.oid.description, field: "\(paramsField).prf")
                }
            }
        }
        do {
            let key = try KDF.Insecure.PBKDF2.deriveKey(
                from: password, salt: salt, using: hash, outputByteCount: keyLength,
                unsafeUncheckedRounds: iterations)
            return key.withUnsafeBytes { Array($0) }
        } catch {
            throw .malformed(field: paramsField)
        }
    }
}
