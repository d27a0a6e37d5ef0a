import Foundation
import Testing
import ObjectFormats

@Suite("PEM")
struct PEMTests {
    @Test("encodes 64-column lines with a trailing newline and round-trips", arguments: [0, 1, 2, 3, 47, 48, 49, 96, 200])
    func roundTrip(length: Int) {
        var rng = SeededGenerator(seed: UInt64(length + 1))
        let der = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let text = PEM.encode(label: "TEST DATA", der: der)
        #expect(text.hasPrefix("-----BEGIN TEST DATA-----\n"))
        #expect(text.hasSuffix("-----END TEST DATA-----\n"))
        let lines = text.split(separator: "\n").dropFirst().dropLast()
        #expect(lines.dropLast().allSatisfy { $0.count == 64 })
        #expect(lines.allSatisfy { $0.count <= 64 })
        #expect(lines.joined() == Data(der).base64EncodedString())
        let decoded = PEM.decodeAll(text)
        #expect(decoded.count == 1)
        #expect(decoded.first?.label == "TEST DATA")
        #expect(decoded.first?.der == der)
    }

    @Test("matches openssl's PEM output byte for byte", .enabled(if: hasOpenSSL))
    func matchesOpenSSL() throws {
        let f = try Fixtures.shared()
        #expect(PEM.encode(label: "CERTIFICATE", der: f.leaf.certificate) == (try f.directory.text("leaf.crt")))
        let keyPEM = try Tool.openssl(["pkcs8", "-topk8", "-nocrypt", "-in", "rsa.key"], in: f.directory)
        #expect(PEM.encode(label: "PRIVATE KEY", der: f.rsa.pkcs8) == String(decoding: keyPEM, as: UTF8.self))
    }

    @Test("decodes several blocks among other text, with CRLF, headers and bad blocks skipped")
    func decodeAll() {
        let one = PEM.encode(label: "PRIVATE KEY", der: [1, 2, 3])
        let two = PEM.encode(label: "CERTIFICATE", der: Array(0..<100))
        let headers = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAEC\n-----END RSA PRIVATE KEY-----\n"
        let broken = "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"
        let unterminated = "-----BEGIN CERTIFICATE-----\nAAEC\n"
        let text = "Bag Attributes\n" + one.replacingOccurrences(of: "\n", with: "\r\n") + "junk\n" + broken + two + headers + unterminated
        let blocks = PEM.decodeAll(text)
        #expect(blocks.map(\.label) == ["PRIVATE KEY", "CERTIFICATE", "RSA PRIVATE KEY"])
        #expect(blocks.map(\.der) == [[1, 2, 3], Array(0..<100), [0, 1, 2]])
    }

    @Test("splits certificates from keys")
    func split() {
        let key = PEM.encode(label: "PRIVATE KEY", der: [1])
        let leaf = PEM.encode(label: "CERTIFICATE", der: [2])
        let root = PEM.encode(label: "CERTIFICATE", der: [3])
        let parts = PEM.splitCertificatesAndKeys(key + leaf + root)
        #expect(parts.certificates == leaf + root)
        #expect(parts.keys == key)
    }
}
