import SwiftASN1

/// Walks AuthenticatedSafe → ContentInfo → SafeContents → SafeBag, collecting keys and certificates.
struct PKCS12SafeContentsReader {
    let password: PFXPassword
    var budget: PKCS12WorkBudget
    private var contents = PKCS12Contents()
    private var bagCount = 0

    init(password: PFXPassword, budget: PKCS12WorkBudget) {
        self.password = password
        self.budget = budget
    }

    /// AuthenticatedSafe ::= SEQUENCE OF ContentInfo (data or encryptedData).
    mutating func readAuthenticatedSafe(_ bytes: [UInt8]) throws(PKCS12Error) -> PKCS12Contents {
        let field = "PFX.authSafe.contents"
        let root = try ASN1Reading.parse(bytes[...], field: field)
        for (index, contentInfo) in try ASN1Reading.children(root, field: field).enumerated() {
            try countBag()
            try readContentInfo(contentInfo, field: "\(field)[\(index)]")
        }
        return contents
    }

    private mutating func readContentInfo(_ node: ASN1Node, field: String) throws(PKCS12Error) {
        let nodes = try ASN1Reading.sequence(node, minimum: 1, field: field)
        let contentType = try ASN1Reading.objectIdentifier(nodes[0], field: "\(field).contentType")
        guard nodes.count > 1 else { return }
        let content = try ASN1Reading.explicit(nodes[1], number: 0, field: "\(field).content")

        switch contentType {
        case OID.data:
            let safeContents = try ASN1Reading.octets(content, field: "\(field).content")
            try readSafeContents(safeContents, depth: 0, field: "\(field).safeContents")
        case OID.encryptedData:
            // EncryptedData ::= SEQUENCE { version INTEGER, encryptedContentInfo EncryptedContentInfo }
            let encryptedData = try ASN1Reading.sequence(content, minimum: 2, field: "\(field).encryptedData")
            let info = try ASN1Reading.sequence(encryptedData[1], minimum: 2, field: "\(field).encryptedContentInfo")
            guard info.count > 2 else { return }
            let ciphertext = try ASN1Reading.octets(
                info[2], tag: ASN1Reading.contextZero, field: "\(field).encryptedContentInfo.encryptedContent")
            let plaintext = try PKCS12Decryption.decrypt(
                ciphertext, algorithm: info[1], password: password, budget: &budget,
                field: "\(field).encryptedContentInfo")
            try readSafeContents(plaintext, depth: 0, field: "\(field).safeContents")
        default:
            throw .unsupportedContentType(oid: contentType.description, field: field)
        }
    }

    /// SafeContents ::= SEQUENCE OF SafeBag, as separately encoded bytes.
    private mutating func readSafeContents(_ bytes: [UInt8], depth: Int, field: String) throws(PKCS12Error) {
        let root: ASN1Node
        do {
            root = try BER.parse(bytes)
        } catch {
            // Plaintext that does not parse after a successful unpad usually means a wrong password.
            throw .decryptionFailed(field: field)
        }
        try readBags(root, depth: depth, field: field)
    }

    private mutating func readBags(_ safeContents: ASN1Node, depth: Int, field: String) throws(PKCS12Error) {
        guard depth <= PKCS12Limits.maximumNesting else {
            throw .limitExceeded(what: "levels of nested SafeContents", limit: PKCS12Limits.maximumNesting)
        }
        for (index, bag) in try ASN1Reading.children(safeContents, field: field).enumerated() {
            try countBag()
            try readBag(bag, depth: depth, field: "\(field)[\(index)]")
        }
    }

    /// SafeBag ::= SEQUENCE { bagId OID, bagValue [0] EXPLICIT ANY, bagAttributes SET OF PKCS12Attribute OPTIONAL }.
    private mutating func readBag(_ node: ASN1Node, depth: Int, field: String) throws(PKCS12Error) {
        let nodes = try ASN1Reading.sequence(node, minimum: 2, field: field)
        let bagId = try ASN1Reading.objectIdentifier(nodes[0], field: "\(field).bagId")
        let value = try ASN1Reading.explicit(nodes[1], number: 0, field: "\(field).bagValue")

        switch bagId {
        case OID.keyBag:
            try PrivateKeyInfo.validate(value, field: "\(field).keyBag")
            contents.privateKeys.append(value.encodedBytes.isEmpty ? DEREncoding.encode(value) : Array(value.encodedBytes))
        case OID.pkcs8ShroudedKeyBag:
            // EncryptedPrivateKeyInfo ::= SEQUENCE { encryptionAlgorithm AlgorithmIdentifier, encryptedData OCTET STRING }
            let encrypted = try ASN1Reading.sequence(value, minimum: 2, field: "\(field).shroudedKeyBag")
            let ciphertext = try ASN1Reading.octets(encrypted[1], field: "\(field).shroudedKeyBag.encryptedData")
            let plaintext = try PKCS12Decryption.decrypt(
                ciphertext, algorithm: encrypted[0], password: password, budget: &budget,
                field: "\(field).shroudedKeyBag")
            let key: ASN1Node
            do {
                key = try BER.parse(plaintext)
                try PrivateKeyInfo.validate(key, field: "\(field).shroudedKeyBag")
            } catch {
                throw .decryptionFailed(field: "\(field).shroudedKeyBag")
            }
            contents.privateKeys.append(key.encodedBytes.isEmpty ? DEREncoding.encode(key) : Array(key.encodedBytes))
        case OID.certBag:
            // CertBag ::= SEQUENCE { certId OID, certValue [0] EXPLICIT OCTET STRING }
            let certBag = try ASN1Reading.sequence(value, minimum: 2, field: "\(field).certBag")
            let certType = try ASN1Reading.objectIdentifier(certBag[0], field: "\(field).certBag.certId")
            guard certType == OID.x509Certificate else { return }  // SDSI certificates are skipped.
            let certValue = try ASN1Reading.explicit(certBag[1], number: 0, field: "\(field).certBag.certValue")
            let certificate = try ASN1Reading.octets(certValue, field: "\(field).certBag.certValue")
            guard !certificate.isEmpty else { throw .malformed(field: "\(field).certBag.certValue") }
            contents.certificates.append(certificate)
        case OID.safeContentsBag:
            try readBags(value, depth: depth + 1, field: "\(field).safeContentsBag")
        default:
            // CRL bags, secret bags and unknown bag types carry nothing this reader returns.
            return
        }
    }

    private mutating func countBag() throws(PKCS12Error) {
        bagCount += 1
        guard bagCount <= PKCS12Limits.maximumBags else {
            throw .limitExceeded(what: "bags and content infos", limit: PKCS12Limits.maximumBags)
        }
    }
}
