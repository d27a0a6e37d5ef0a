import Crypto
import Foundation
import SwiftASN1
import Testing
@testable import ObjectFormats

@Suite("PKCS12Reader", .enabled(if: hasOpenSSL))
struct PKCS12ReaderTests {
    /// One `openssl pkcs12 -export` configuration.
    struct Variant: CustomTestStringConvertible, Sendable {
        let name: String
        let arguments: [String]
        let password: String
        var testDescription: String { name }
    }

    static let variants: [Variant] = [
        Variant(name: "OpenSSL 3 default (PBES2 AES-256, HMAC-SHA256), empty password", arguments: [], password: ""),
        Variant(name: "OpenSSL 3 default, password pw", arguments: [], password: "pw"),
        Variant(name: "legacy (3DES key, RC2-40 certs, HMAC-SHA1), empty password", arguments: ["-legacy"], password: ""),
        Variant(name: "legacy, password pw", arguments: ["-legacy"], password: "pw"),
        Variant(name: "unencrypted keyBag and data SafeContents", arguments: ["-keypbe", "NONE", "-certpbe", "NONE"], password: ""),
        Variant(name: "unencrypted, password pw", arguments: ["-keypbe", "NONE", "-certpbe", "NONE"], password: "pw"),
        Variant(
            name: "PBES2 AES-128 with HMAC-SHA1 MAC",
            arguments: ["-keypbe", "AES-128-CBC", "-certpbe", "AES-128-CBC", "-macalg", "sha1"], password: "pw"),
        Variant(name: "HMAC-SHA384 MAC", arguments: ["-macalg", "sha384"], password: ""),
        Variant(name: "HMAC-SHA512 MAC", arguments: ["-macalg", "sha512"], password: "pw"),
        Variant(
            name: "2-key 3DES key bag and RC2-128 certificates",
            arguments: ["-legacy", "-keypbe", "PBE-SHA1-2DES", "-certpbe", "PBE-SHA1-RC2-128"], password: ""),
        Variant(
            name: "PBES2 with DES-EDE3-CBC",
            arguments: ["-keypbe", "DES-EDE3-CBC", "-certpbe", "DES-EDE3-CBC"], password: "pw"),
        Variant(name: "no MAC, legacy key bag", arguments: ["-legacy", "-nomac"], password: ""),
        Variant(name: "no MAC, password pw", arguments: ["-legacy", "-nomac"], password: "pw"),
        Variant(name: "key usage attribute on the key", arguments: ["-keysig"], password: ""),
        Variant(name: "non-ASCII password, default", arguments: [], password: "pässwörd-€"),
        Variant(name: "non-ASCII password, legacy", arguments: ["-legacy"], password: "pässwörd-€"),
    ]

    @Test("recovers the exact key and certificate", arguments: variants, ["rsa", "ec"])
    func recoversKeyAndCertificate(variant: Variant, keyType: String) throws {
        let fixtures = try Fixtures.shared()
        let identity = keyType == "rsa" ? fixtures.rsa : fixtures.ec
        let pfx = try fixtures.exportPFX(
            ["-in", "\(identity.name).crt", "-inkey", "\(identity.name).key", "-passout", "pass:\(variant.password)"]
                + variant.arguments)
        let contents = try PKCS12Reader.read(pfx, password: variant.password)
        #expect(contents.certificates == [identity.certificate])
        #expect(contents.privateKeys.count == 1)
        if variant.arguments.contains("-keysig") {
            // The PFX keeps the PKCS#8 attribute; the canonical form drops it.
            #expect(try PrivateKeyInfo.canonical(contents.privateKeys[0]) == identity.pkcs8)
        } else {
            #expect(contents.privateKeys == [identity.pkcs8])
        }
    }

    @Test("keeps a chain's certificates in file order")
    func chainInFileOrder() throws {
        let fixtures = try Fixtures.shared()
        let certfile = try fixtures.certificateFile([fixtures.root, fixtures.intermediate])
        let pfx = try fixtures.exportPFX(
            ["-in", "leaf.crt", "-inkey", "leaf.key", "-certfile", certfile, "-passout", "pass:", "-legacy"])
        let contents = try PKCS12Reader.read(pfx)
        #expect(contents.privateKeys == [fixtures.leaf.pkcs8])
        #expect(contents.certificates.first == fixtures.leaf.certificate)
        #expect(Set(contents.certificates) == Set([fixtures.leaf, fixtures.intermediate, fixtures.root].map(\.certificate)))
    }

    @Test("certificates-only PFX keeps the shuffled order")
    func certificatesOnly() throws {
        let fixtures = try Fixtures.shared()
        let shuffled = [fixtures.root, fixtures.leaf, fixtures.intermediate]
        let pfx = try fixtures.exportPFX(
            ["-nokeys", "-in", try fixtures.certificateFile(shuffled), "-passout", "pass:"])
        let contents = try PKCS12Reader.read(pfx)
        #expect(contents.privateKeys.isEmpty)
        #expect(contents.certificates == shuffled.map(\.certificate))
    }

    @Test("a wrong password is a MAC mismatch", arguments: [[], ["-legacy"], ["-keypbe", "NONE", "-certpbe", "NONE"]])
    func wrongPassword(arguments: [String]) throws {
        let fixtures = try Fixtures.shared()
        let pfx = try fixtures.exportPFX(["-in", "ec.crt", "-inkey", "ec.key", "-passout", "pass:pw"] + arguments)
        #expect(throws: PKCS12Error.macMismatch) { try PKCS12Reader.read(pfx, password: "nope") }
        #expect(throws: PKCS12Error.macMismatch) { try PKCS12Reader.read(pfx, password: "") }
        let message = PKCS12Error.macMismatch.description
        #expect(message.hasPrefix("wrong password or corrupted PFX"))
    }

    @Test("a wrong password without a MAC fails to decrypt")
    func wrongPasswordWithoutMAC() throws {
        let fixtures = try Fixtures.shared()
        let pfx = try fixtures.exportPFX(["-in", "ec.crt", "-inkey", "ec.key", "-passout", "pass:pw", "-legacy", "-nomac"])
        #expect(throws: PKCS12Error.self) { try PKCS12Reader.read(pfx, password: "nope") }
    }

    /// Re-MACs an OpenSSL PFX (SHA-256 MAC) with the zero-length password, as Windows and .NET do for "no password".
    static func remacWithZeroLengthPassword(_ pfx: [UInt8]) throws -> [UInt8] {
        let nodes = try ASN1Reading.children(try BER.parse(pfx), field: "PFX")
        let authSafeInfo = try ASN1Reading.sequence(nodes[1], minimum: 2, field: "authSafe")
        let authSafe = try ASN1Reading.octets(try ASN1Reading.explicit(authSafeInfo[1], number: 0, field: "content"), field: "content")
        let macData = try ASN1Reading.sequence(nodes[2], minimum: 3, field: "macData")
        let digestAlgorithm = try ASN1Reading.sequence(macData[0], minimum: 2, field: "mac")[0]
        let salt = try ASN1Reading.octets(macData[1], field: "salt")
        let iterations = try ASN1Reading.integer(macData[2], field: "iterations")
        let key = PKCS12KeyDerivation.derive(
            SHA256.self, purpose: .macKey, password: [], salt: salt, iterations: iterations, count: 32)
        let mac = Array(HMAC<SHA256>.authenticationCode(for: authSafe, using: SymmetricKey(data: key)))
        let newMacData = DEREncoding.sequence(
            DEREncoding.sequence(Array(digestAlgorithm.encodedBytes), DEREncoding.octetString(mac)),
            DEREncoding.octetString(salt), Array(macData[2].encodedBytes))
        return DEREncoding.sequence(Array(nodes[0].encodedBytes), Array(nodes[1].encodedBytes), newMacData)
    }

    @Test("an empty password also matches a MAC made with the zero-length password")
    func zeroLengthPassword() throws {
        let fixtures = try Fixtures.shared()
        // Unencrypted bags, so only the MAC depends on how the empty password is encoded.
        let original = try fixtures.exportPFX(
            ["-in", "ec.crt", "-inkey", "ec.key", "-passout", "pass:", "-keypbe", "NONE", "-certpbe", "NONE"])
        let remac = try Self.remacWithZeroLengthPassword(original)
        #expect(remac != original)
        let contents = try PKCS12Reader.read(remac, password: "")
        #expect(contents.privateKeys == [fixtures.ec.pkcs8])
        #expect(contents.certificates == [fixtures.ec.certificate])
        #expect(throws: PKCS12Error.macMismatch) { try PKCS12Reader.read(remac, password: "pw") }
    }

    @Test("PFX files written by Python cryptography", .enabled(if: hasPythonCryptography))
    func pythonCryptography() throws {
        let fixtures = try Fixtures.shared()
        let script = """
            import sys
            from cryptography import x509
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.serialization import pkcs12
            d = sys.argv[1]
            key = serialization.load_pem_private_key(open(d + "/rsa.key", "rb").read(), None)
            cert = x509.load_pem_x509_certificate(open(d + "/rsa.crt", "rb").read())
            def write(name, enc):
                open(d + "/" + name, "wb").write(pkcs12.serialize_key_and_certificates(b"akvs", key, cert, None, enc))
            write("py-none.p12", serialization.NoEncryption())
            write("py-best.p12", serialization.BestAvailableEncryption(b"pw"))
            legacy = (serialization.PrivateFormat.PKCS12.encryption_builder().kdf_rounds(2000)
                      .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC).hmac_hash(hashes.SHA1()).build(b"pw"))
            write("py-legacy.p12", legacy)
            """
        try Tool.run("/usr/bin/python3", ["-c", script, fixtures.directory.path])
        for (file, password) in [("py-none.p12", ""), ("py-best.p12", "pw"), ("py-legacy.p12", "pw")] {
            let contents = try PKCS12Reader.read(try fixtures.directory.bytes(file), password: password)
            #expect(contents.certificates == [fixtures.rsa.certificate], "\(file)")
            #expect(contents.privateKeys.map { try? PrivateKeyInfo.canonical($0) } == [fixtures.rsa.pkcs8], "\(file)")
        }
    }
}

@Suite("PKCS12Reader limits and malformed input")
struct PKCS12LimitTests {
    @Test("rejects input over 1 MiB")
    func tooLarge() {
        let input = [UInt8](repeating: 0x30, count: (1 << 20) + 1)
        #expect(throws: PKCS12Error.inputTooLarge(size: (1 << 20) + 1, limit: 1 << 20)) { try PKCS12Reader.read(input) }
        #expect(PKCS12Error.inputTooLarge(size: (1 << 20) + 1, limit: 1 << 20).description
            .hasPrefix("PFX is 1048577 bytes, larger than the 1048576-byte limit; a Key Vault certificate PFX is a few kilobytes"))
    }

    @Test("rejects empty and non-ASN.1 input", arguments: [[], [0x00], [0x30, 0x80], Array("not a pfx".utf8)])
    func garbage(input: [UInt8]) {
        #expect(throws: PKCS12Error.self) { try PKCS12Reader.read(input) }
    }

    @Test("rejects iteration counts outside 1...10,000,000")
    func iterationLimits() throws {
        var budget = PKCS12WorkBudget()
        #expect(throws: PKCS12Error.iterationCountOutOfRange(field: "f", value: 10_000_001, limit: 10_000_000)) {
            try budget.charge(10_000_001, field: "f")
        }
        #expect(throws: PKCS12Error.iterationCountOutOfRange(field: "f", value: 0, limit: 10_000_000)) {
            try budget.charge(0, field: "f")
        }
        for _ in 0..<4 { try budget.charge(10_000_000, field: "f") }
        #expect(throws: PKCS12Error.limitExceeded(what: "total key-derivation iterations", limit: 40_000_000)) {
            try budget.charge(1, field: "f")
        }
    }

    /// A PFX without MAC whose only SafeBag nests SafeContents `depth` levels deep around an empty SafeContents.
    static func nestedPFX(depth: Int) -> [UInt8] {
        func oid(_ components: [UInt8]) -> [UInt8] { DEREncoding.tlv(0x06, components) }
        let safeContentsBagOID = oid([0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x0C, 0x0A, 0x01, 0x06])
        let dataOID = oid([0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01])
        var safeContents = DEREncoding.sequence()
        for _ in 0..<depth {
            let bag = DEREncoding.sequence(safeContentsBagOID, DEREncoding.tlv(0xA0, safeContents))
            safeContents = DEREncoding.sequence(bag)
        }
        let contentInfo = DEREncoding.sequence(dataOID, DEREncoding.tlv(0xA0, DEREncoding.octetString(safeContents)))
        let authSafe = DEREncoding.sequence(contentInfo)
        return DEREncoding.sequence(
            DEREncoding.unsignedInteger([3]),
            DEREncoding.sequence(dataOID, DEREncoding.tlv(0xA0, DEREncoding.octetString(authSafe))))
    }

    @Test("accepts shallow nesting and rejects deep nesting of SafeContents")
    func nesting() throws {
        #expect(try PKCS12Reader.read(Self.nestedPFX(depth: 8)) == PKCS12Contents())
        #expect(throws: PKCS12Error.limitExceeded(what: "levels of nested SafeContents", limit: 8)) {
            try PKCS12Reader.read(Self.nestedPFX(depth: 9))
        }
        // Far deeper input is stopped by the ASN.1 parser's own depth limit.
        #expect(throws: PKCS12Error.self) { try PKCS12Reader.read(Self.nestedPFX(depth: 40)) }
    }

    @Test("error messages name the field and never echo key material")
    func messages() {
        let malformed = PKCS12Error.malformed(field: "PFX.macData").description
        #expect(malformed.contains("PFX.macData"))
        #expect(PKCS12Error.decryptionFailed(field: "x").description.contains("wrong password or corrupted PFX"))
        #expect(PKCS12Error.unsupportedAlgorithm(oid: "1.2.3", field: "f").description.contains("1.2.3"))
    }
}
