import Foundation
@testable import ObjectFormats
import Testing

@Suite struct TLSKeyPairTests {
    @Test func rsaFromPEMBecomesPKCS1AndMatchesOpenSSL() throws {
        let f = try Fixtures.shared()
        let pem = PEM.encode(label: "PRIVATE KEY", der: f.leaf.pkcs8) + PEM.encode(label: "CERTIFICATE", der: f.leaf.certificate)
            + PEM.encode(label: "CERTIFICATE", der: f.intermediate.certificate)
        let pair = try TLSKeyPair.parse(Array(pem.utf8))
        #expect(pair.privateKey.hasPrefix("-----BEGIN RSA PRIVATE KEY-----"))
        #expect(PEM.decodeAll(pair.certificates).map(\.der) == [f.leaf.certificate, f.intermediate.certificate])
        // openssl reads the PKCS#1 key and finds the same key as the original.
        try f.directory.write("tls-rsa.key", Array(pair.privateKey.utf8))
        let ours = try Tool.openssl(["rsa", "-in", "tls-rsa.key", "-pubout", "-outform", "DER"], in: f.directory)
        let theirs = try Tool.openssl(["rsa", "-in", "leaf.key", "-pubout", "-outform", "DER"], in: f.directory)
        #expect(ours == theirs)
    }

    @Test func ecFromPFXBecomesSEC1() throws {
        let f = try Fixtures.shared()
        let pfx = try f.exportPFX(["-inkey", "ec.key", "-in", "ec.crt", "-passout", "pass:"])
        for input in [pfx, Array(Data(pfx).base64EncodedString().utf8)] {
            let pair = try TLSKeyPair.parse(input)
            #expect(pair.privateKey.hasPrefix("-----BEGIN EC PRIVATE KEY-----"))
            try f.directory.write("tls-ec.key", Array(pair.privateKey.utf8))
            let ours = try Tool.openssl(["ec", "-in", "tls-ec.key", "-pubout", "-outform", "DER"], in: f.directory)
            let theirs = try Tool.openssl(["ec", "-in", "ec.key", "-pubout", "-outform", "DER"], in: f.directory)
            #expect(ours == theirs)
            #expect(PEM.decodeAll(pair.certificates).map(\.der) == [f.ec.certificate])
        }
    }

    @Test func errorsNameWhatIsMissing() throws {
        let f = try Fixtures.shared()
        let mismatch = PEM.encode(label: "PRIVATE KEY", der: f.ec.pkcs8) + PEM.encode(label: "CERTIFICATE", der: f.rsa.certificate)
        #expect(throws: TLSKeyPairError.mismatch) { try TLSKeyPair.parse(Array(mismatch.utf8)) }
        #expect(throws: TLSKeyPairError.noPrivateKey) { try TLSKeyPair.parse(Array(PEM.encode(label: "CERTIFICATE", der: f.ec.certificate).utf8)) }
        #expect(throws: TLSKeyPairError.noCertificate) { try TLSKeyPair.parse(Array(PEM.encode(label: "PRIVATE KEY", der: f.ec.pkcs8).utf8)) }
        #expect(throws: TLSKeyPairError.unreadable) { try TLSKeyPair.parse(Array("just a password".utf8)) }
    }
}
