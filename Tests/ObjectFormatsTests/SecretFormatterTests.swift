import Foundation
import Testing
import ObjectFormats

@Suite("SecretFormatter", .enabled(if: hasOpenSSL))
struct SecretFormatterTests {
    /// A base64 PFX like Key Vault's: empty password, key plus chain, with the chain given shuffled.
    static func keyVaultStylePFX(legacy: Bool) throws -> (value: String, der: [UInt8], fixtures: Fixtures) {
        let f = try Fixtures.shared()
        let certfile = try f.certificateFile([f.root, f.intermediate])
        let der = try f.exportPFX(
            ["-in", "leaf.crt", "-inkey", "leaf.key", "-certfile", certfile, "-passout", "pass:"] + (legacy ? ["-legacy"] : []))
        return (Data(der).base64EncodedString(), der, f)
    }

    @Test("PKCS#12 to PEM: key first, then leaf → intermediate → root", arguments: [true, false])
    func pkcs12ToPEM(legacy: Bool) throws {
        let (value, _, f) = try Self.keyVaultStylePFX(legacy: legacy)
        let output = try SecretFormatter.format(
            value: value, contentType: "application/x-pkcs12", format: .pem, constructChain: true)
        let blocks = PEM.decodeAll(String(decoding: output, as: UTF8.self))
        #expect(blocks.map(\.label) == ["PRIVATE KEY", "CERTIFICATE", "CERTIFICATE", "CERTIFICATE"])
        #expect(blocks.map(\.der) == [f.leaf.pkcs8, f.leaf.certificate, f.intermediate.certificate, f.root.certificate])
        // Exactly the concatenation of canonical PEM blocks, nothing else.
        let expected = PEM.encode(label: "PRIVATE KEY", der: f.leaf.pkcs8)
            + [f.leaf, f.intermediate, f.root].map { PEM.encode(label: "CERTIFICATE", der: $0.certificate) }.joined()
        #expect(String(decoding: output, as: UTF8.self) == expected)
    }

    @Test("without constructChain the PFX order is kept")
    func fileOrder() throws {
        let f = try Fixtures.shared()
        let shuffled = [f.root, f.leaf, f.intermediate]
        let der = try f.exportPFX(["-nokeys", "-in", try f.certificateFile(shuffled), "-passout", "pass:"])
        let value = Data(der).base64EncodedString()
        let kept = try SecretFormatter.format(value: value, contentType: "application/x-pkcs12", format: .pem, constructChain: false)
        #expect(PEM.decodeAll(String(decoding: kept, as: UTF8.self)).map(\.der) == shuffled.map(\.certificate))
        let ordered = try SecretFormatter.format(value: value, contentType: "application/x-pkcs12", format: .pem, constructChain: true)
        #expect(PEM.decodeAll(String(decoding: ordered, as: UTF8.self)).map(\.der) == [f.leaf, f.intermediate, f.root].map(\.certificate))
    }

    @Test("PKCS#8 attributes are dropped from the written key")
    func keyAttributesDropped() throws {
        let f = try Fixtures.shared()
        let der = try f.exportPFX(["-in", "rsa.crt", "-inkey", "rsa.key", "-passout", "pass:", "-keysig"])
        let output = try SecretFormatter.format(
            value: Data(der).base64EncodedString(), contentType: "application/x-pkcs12", format: .pem, constructChain: true)
        #expect(PEM.decodeAll(String(decoding: output, as: UTF8.self)).first?.der == f.rsa.pkcs8)
    }

    @Test("objectFormat pfx writes the binary PFX")
    func pfxFormat() throws {
        let (value, der, _) = try Self.keyVaultStylePFX(legacy: true)
        let output = try SecretFormatter.format(
            value: value, contentType: "application/x-pkcs12", format: .pfx, constructChain: true)
        #expect(output == der)
        // Upstream's documented setup (the base64 text, then objectEncoding: base64) gives the same bytes.
        #expect(try ObjectEncoding.base64.decode(value) == der)
        #expect(throws: SecretFormatError.invalidPFXBase64(offset: 0)) {
            try SecretFormatter.format(value: "%%%%", contentType: "application/x-pkcs12", format: .pfx, constructChain: true)
        }
    }

    @Test("application/x-pem-file is written as-is for either format", arguments: [ObjectFormat.pem, .pfx])
    func pemFile(format: ObjectFormat) throws {
        let value = PEM.encode(label: "PRIVATE KEY", der: [1, 2, 3]) + PEM.encode(label: "CERTIFICATE", der: [4, 5])
        let output = try SecretFormatter.format(
            value: value, contentType: "application/x-pem-file", format: format, constructChain: true)
        #expect(output == Array(value.utf8))
    }

    @Test("unknown content types, bad base64 and bad PFX are errors")
    func errors() throws {
        #expect(throws: SecretFormatError.unknownContentType("text/plain")) {
            try SecretFormatter.format(value: "x", contentType: "text/plain", format: .pem, constructChain: true)
        }
        #expect(SecretFormatError.unknownContentType("text/plain").description
            .hasPrefix("failed to get certificate. unknown content type 'text/plain'"))
        #expect(throws: SecretFormatError.invalidPFXBase64(offset: 0)) {
            try SecretFormatter.format(value: "!!!!", contentType: "application/x-pkcs12", format: .pem, constructChain: true)
        }
        #expect(SecretFormatError.invalidPFXBase64(offset: 0).description
            .hasPrefix("failed to decode the PFX of an application/x-pkcs12 secret: illegal base64 data at input byte 0"))
        #expect(throws: SecretFormatError.self) {
            try SecretFormatter.format(value: "AAAA", contentType: "application/x-pkcs12", format: .pem, constructChain: true)
        }
        // A PFX protected by a real password cannot be opened with Key Vault's empty password.
        let f = try Fixtures.shared()
        let der = try f.exportPFX(["-in", "ec.crt", "-inkey", "ec.key", "-passout", "pass:pw"])
        #expect(throws: SecretFormatError.pfx(.macMismatch)) {
            try SecretFormatter.format(
                value: Data(der).base64EncodedString(), contentType: "application/x-pkcs12", format: .pem, constructChain: true)
        }
    }
}
