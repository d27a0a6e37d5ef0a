import SwiftASN1

/// Opens PKCS#12 (PFX) files: legacy PBE (3DES/RC2, as Key Vault writes), PBES2/AES (OpenSSL 3's default) and unencrypted bags.
public enum PKCS12Reader {
    /// Returns the unencrypted PKCS#8 keys and DER certificates of `der`, verifying the MAC when present.
    public static func read(_ der: [UInt8], password: String = "") throws(PKCS12Error) -> PKCS12Contents {
        guard der.count <= PKCS12Limits.maximumInputBytes else {
            throw .inputTooLarge(size: der.count, limit: PKCS12Limits.maximumInputBytes)
        }
        let (authSafe, mac) = try parsePFX(der)
        var budget = PKCS12WorkBudget()
        let candidates = PFXPassword.candidates(for: password)

        if let mac {
            for candidate in candidates {
                guard try mac.verify(authSafe, password: candidate.bmp, budget: &budget) else { continue }
                var reader = PKCS12SafeContentsReader(password: candidate, budget: budget)
                return try reader.readAuthenticatedSafe(authSafe)
            }
            throw .macMismatch
        }

        // Without a MAC nothing tells the password encodings apart, so try each until one decrypts.
        var firstError: PKCS12Error?
        for candidate in candidates {
            var reader = PKCS12SafeContentsReader(password: candidate, budget: budget)
            do {
                return try reader.readAuthenticatedSafe(authSafe)
            } catch {
                budget = reader.budget
                firstError = firstError ?? error
                guard case .decryptionFailed = error else { throw error }
            }
        }
        throw firstError ?? .malformed(field: "PFX")
    }

    /// PFX ::= SEQUENCE { version INTEGER (v3), authSafe ContentInfo, macData MacData OPTIONAL }.
    private static func parsePFX(_ der: [UInt8]) throws(PKCS12Error) -> (authSafe: [UInt8], mac: PKCS12MAC?) {
        let root = try ASN1Reading.parse(der[...], field: "PFX")
        let nodes = try ASN1Reading.sequence(root, minimum: 2, field: "PFX")
        let version = try ASN1Reading.integer(nodes[0], field: "PFX.version")
        guard version == 3 else { throw .unsupportedVersion(version) }

        let contentInfo = try ASN1Reading.sequence(nodes[1], minimum: 2, field: "PFX.authSafe")
        let contentType = try ASN1Reading.objectIdentifier(contentInfo[0], field: "PFX.authSafe.contentType")
        guard contentType == OID.data else {
            // signedData (public-key integrity mode) is not used by Key Vault or OpenSSL's default export.
            throw .unsupportedContentType(oid: contentType.description, field: "PFX.authSafe")
        }
        let content = try ASN1Reading.explicit(contentInfo[1], number: 0, field: "PFX.authSafe.content")
        let authSafe = try ASN1Reading.octets(content, field: "PFX.authSafe.content")

        let mac = nodes.count > 2 ? try PKCS12MAC(nodes[2]) : nil
        return (authSafe, mac)
    }
}
