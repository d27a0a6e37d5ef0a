import Foundation
import Testing
@testable import ObjectFormats

@Suite("PKCS12Reader fuzzing", .enabled(if: hasOpenSSL))
struct PKCS12FuzzTests {
    /// Applies one random mutation: flip bits, overwrite, insert, delete, truncate or duplicate a range.
    static func mutate(_ input: [UInt8], using rng: inout SeededGenerator) -> [UInt8] {
        var bytes = input
        let position = Int.random(in: 0..<max(bytes.count, 1), using: &rng)
        switch Int.random(in: 0..<6, using: &rng) {
        case 0:
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let index = Int.random(in: 0..<bytes.count, using: &rng)
                bytes[index] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &rng)
            }
        case 1:
            bytes[position] = [0x00, 0x7F, 0x80, 0xFF, UInt8.random(in: 0...255, using: &rng)].randomElement(using: &rng)!
        case 2:
            bytes.insert(contentsOf: (0..<Int.random(in: 1...8, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }, at: position)
        case 3:
            bytes.removeSubrange(position..<min(bytes.count, position + Int.random(in: 1...16, using: &rng)))
        case 4:
            bytes = Array(bytes.prefix(position))
        default:
            let end = min(bytes.count, position + Int.random(in: 1...32, using: &rng))
            bytes.insert(contentsOf: bytes[position..<end], at: end)
        }
        return bytes
    }

    /// Low iteration counts keep 2,000 attempts fast; the structure is what is being fuzzed.
    static func inputs() throws -> [(name: String, pfx: [UInt8])] {
        let fixtures = try Fixtures.shared()
        let certfile = try fixtures.certificateFile([fixtures.intermediate, fixtures.root])
        let base = ["-in", "ec.crt", "-inkey", "ec.key", "-passout", "pass:", "-iter", "1"]
        return [
            ("legacy with MAC", try fixtures.exportPFX(base + ["-legacy", "-certfile", certfile])),
            ("legacy without MAC", try fixtures.exportPFX(base + ["-legacy", "-nomac"])),
            ("PBES2 with MAC", try fixtures.exportPFX(base + ["-certfile", certfile])),
            ("unencrypted without MAC", try fixtures.exportPFX(base + ["-keypbe", "NONE", "-certpbe", "NONE", "-nomac"])),
        ]
    }

    @Test("2,000 random mutations only ever throw PKCS12Error")
    func mutations() throws {
        let inputs = try Self.inputs()
        for input in inputs {
            // Every unmutated input opens.
            #expect(try PKCS12Reader.read(input.pfx).certificates.isEmpty == false, "\(input.name)")
        }
        var rng = SeededGenerator(seed: 0xA4B5_2026)
        var opened = 0
        var rejected = 0
        for round in 0..<2_000 {
            let input = inputs[round % inputs.count]
            var mutated = Self.mutate(input.pfx, using: &rng)
            if Bool.random(using: &rng) { mutated = Self.mutate(mutated, using: &rng) }
            do {
                let contents = try PKCS12Reader.read(mutated)
                opened += 1
                // Whatever is returned must still be well-formed enough to format.
                _ = contents.privateKeys.map { try? PrivateKeyInfo.canonical($0) }
                _ = CertificateChain.order(contents.certificates)
            } catch {
                // Typed throws: `error` is a PKCS12Error; its message must be usable.
                #expect(!error.description.isEmpty)
                rejected += 1
            }
        }
        #expect(opened + rejected == 2_000)
        #expect(rejected > 0)
    }
}
