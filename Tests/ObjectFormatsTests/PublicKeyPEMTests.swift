import Foundation
import Testing
import ObjectFormats

@Suite("PublicKeyPEM", .enabled(if: hasOpenSSL))
struct PublicKeyPEMTests {
    static func bytes(fromHex text: some StringProtocol) -> [UInt8] {
        var out: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            out.append(UInt8(text[index..<next], radix: 16)!)
            index = next
        }
        return out
    }

    @Test("RSA JWK matches openssl pkey -pubout", arguments: ["RSA", "RSA-HSM"])
    func rsa(kty: String) throws {
        let f = try Fixtures.shared()
        let modulusLine = String(decoding: try Tool.openssl(["rsa", "-in", "rsa.key", "-noout", "-modulus"], in: f.directory), as: UTF8.self)
        let n = Self.bytes(fromHex: modulusLine.trimmingCharacters(in: .whitespacesAndNewlines).dropFirst("Modulus=".count))
        let text = String(decoding: try Tool.openssl(["rsa", "-in", "rsa.key", "-noout", "-text"], in: f.directory), as: UTF8.self)
        let exponentHex = text.components(separatedBy: "(0x").last!.prefix { $0 != ")" }
        let e = Self.bytes(fromHex: exponentHex.count % 2 == 1 ? "0" + exponentHex : String(exponentHex))
        let expected = String(decoding: try Tool.openssl(["pkey", "-in", "rsa.key", "-pubout"], in: f.directory), as: UTF8.self)

        #expect(try PublicKeyPEM.fromJWK(kty: kty, n: base64url(n), e: base64url(e)) == expected)
        // A leading zero byte on n (as some encoders add) changes nothing.
        #expect(try PublicKeyPEM.fromJWK(kty: kty, n: base64url([0] + n), e: base64url(e)) == expected)
    }

    @Test("EC JWK matches openssl pkey -pubout", arguments: [("P-256", 32), ("P-384", 48), ("P-521", 66)])
    func ec(curve: String, fieldBytes: Int) throws {
        let f = try Fixtures.shared()
        let keyFile = "jwk-\(curve).key"
        try Tool.openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:\(curve)", "-out", keyFile], in: f.directory)
        let spki = try Tool.openssl(["pkey", "-in", keyFile, "-pubout", "-outform", "DER"], in: f.directory)
        let point = Array(spki.suffix(1 + 2 * fieldBytes))
        #expect(point.first == 0x04)
        let x = Array(point[1...fieldBytes])
        let y = Array(point[(fieldBytes + 1)...])
        let expected = String(decoding: try Tool.openssl(["pkey", "-in", keyFile, "-pubout"], in: f.directory), as: UTF8.self)

        for kty in ["EC", "EC-HSM"] {
            let pem = try PublicKeyPEM.fromJWK(kty: kty, crv: curve, x: base64url(x), y: base64url(y))
            #expect(pem == expected)
        }
        // Coordinates with leading zeros stripped are left-padded back to the field size; extra zeros are dropped.
        let shortX = Array(x.drop { $0 == 0 })
        #expect(try PublicKeyPEM.fromJWK(kty: "EC", crv: curve, x: base64url(shortX), y: base64url(y)) == expected)
        #expect(try PublicKeyPEM.fromJWK(kty: "EC", crv: curve, x: base64url([0, 0] + x), y: base64url(y)) == expected)

        // openssl reads the result back as the same curve.
        try f.directory.write("jwk-\(curve).pub", Array(expected.utf8))
        let described = String(decoding: try Tool.openssl(["pkey", "-pubin", "-in", "jwk-\(curve).pub", "-text", "-noout"], in: f.directory), as: UTF8.self)
        #expect(described.contains("NIST CURVE: \(curve)"))
    }

    @Test("rejects unsupported key types and curves with upstream wording")
    func unsupported() {
        #expect(throws: PublicKeyPEMError.unsupportedKeyType("oct")) { try PublicKeyPEM.fromJWK(kty: "oct") }
        #expect(PublicKeyPEMError.unsupportedKeyType("oct-HSM").description.contains("key type 'oct-HSM' currently not supported"))
        #expect(throws: PublicKeyPEMError.unsupportedCurve("P-256K")) {
            try PublicKeyPEM.fromJWK(kty: "EC", crv: "P-256K", x: "AA", y: "AA")
        }
    }

    @Test("rejects missing fields, bad base64url and points off the curve")
    func invalid() {
        #expect(throws: PublicKeyPEMError.missingField("n", keyType: "RSA")) { try PublicKeyPEM.fromJWK(kty: "RSA", e: "AQAB") }
        #expect(throws: PublicKeyPEMError.invalidBase64URL(field: "n")) { try PublicKeyPEM.fromJWK(kty: "RSA", n: "a*b", e: "AQAB") }
        #expect(throws: PublicKeyPEMError.missingField("crv", keyType: "EC")) { try PublicKeyPEM.fromJWK(kty: "EC", x: "AQ", y: "AQ") }
        let one = base64url([1])
        #expect(throws: PublicKeyPEMError.pointNotOnCurve(curve: "P-256")) {
            try PublicKeyPEM.fromJWK(kty: "EC", crv: "P-256", x: one, y: one)
        }
        let long = base64url([UInt8](repeating: 0xFF, count: 33))
        #expect(throws: PublicKeyPEMError.coordinateTooLong(field: "x", curve: "P-256")) {
            try PublicKeyPEM.fromJWK(kty: "EC", crv: "P-256", x: long, y: one)
        }
    }
}
