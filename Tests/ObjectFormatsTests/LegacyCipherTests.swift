import Foundation
import Testing
@testable import ObjectFormats

/// Known answers come from the openssl CLI at test time; nothing here is a hand-typed vector.
@Suite("DES, 3DES and RC2 against openssl enc", .enabled(if: hasOpenSSL))
struct LegacyCipherTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let cipher: String
        let keyLength: Int
        let legacyProvider: Bool
        var testDescription: String { cipher }
    }

    static let cases: [Case] = [
        Case(cipher: "des-ede3-cbc", keyLength: 24, legacyProvider: false),
        Case(cipher: "des-ede-cbc", keyLength: 16, legacyProvider: false),
        Case(cipher: "des-cbc", keyLength: 8, legacyProvider: true),
        Case(cipher: "rc2-40-cbc", keyLength: 5, legacyProvider: true),
        Case(cipher: "rc2-64-cbc", keyLength: 8, legacyProvider: true),
        Case(cipher: "rc2-cbc", keyLength: 16, legacyProvider: true),
    ]

    static func decryptor(_ testCase: Case, key: [UInt8]) -> any BlockDecrypting {
        switch testCase.cipher {
        case "des-cbc": return DES(key: key)
        case "rc2-40-cbc": return RC2(key: key, effectiveBits: 40)!
        case "rc2-64-cbc": return RC2(key: key, effectiveBits: 64)!
        case "rc2-cbc": return RC2(key: key, effectiveBits: 128)!
        default: return TripleDES(key: key)!
        }
    }

    @Test("decrypts what openssl enc encrypts", arguments: cases)
    func matchesOpenSSL(testCase: Case) throws {
        let dir = try Tool.scratchDirectory()
        var rng = SeededGenerator(seed: UInt64(testCase.keyLength * 7919))
        for length in [0, 1, 7, 8, 9, 64, 301] {
            let key = (0..<testCase.keyLength).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let iv = (0..<8).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let plaintext = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            var arguments = ["enc", "-\(testCase.cipher)", "-K", hex(key), "-iv", hex(iv)]
            if testCase.legacyProvider { arguments += ["-provider", "legacy", "-provider", "default"] }
            let ciphertext = try Tool.openssl(arguments, in: dir, input: plaintext)
            let decrypted = try CBCDecryption.decrypt(ciphertext, iv: iv, cipher: Self.decryptor(testCase, key: key))
            #expect(decrypted == plaintext, "\(testCase.cipher) length \(length)")
        }
    }

    @Test("DES S-box rows are permutations of 0...15")
    func sboxes() {
        for box in DES.Tables.sboxes {
            for row in 0..<4 {
                #expect(Set(box[row * 16..<row * 16 + 16]) == Set(0..<16))
            }
        }
        #expect(Set(RC2.piTable).count == 256)
    }

    @Test("the fast E expansion equals the FIPS 46-3 E table")
    func expansion() {
        var rng = SeededGenerator(seed: 46)
        for _ in 0..<200 {
            let r = UInt32.random(in: 0...UInt32.max, using: &rng)
            #expect(DES.expand(r) == DES.permute(UInt64(r), inputWidth: 32, table: DES.Tables.expansion))
        }
    }

    @Test("CBC rejects bad lengths and bad padding")
    func cbcErrors() throws {
        let des = DES(key: [UInt8](repeating: 1, count: 8))
        #expect(throws: CBCDecryption.Failure.badLength) {
            try CBCDecryption.decrypt([1, 2, 3], iv: [UInt8](repeating: 0, count: 8), cipher: des)
        }
        #expect(throws: CBCDecryption.Failure.badLength) {
            try CBCDecryption.decrypt([], iv: [UInt8](repeating: 0, count: 8), cipher: des)
        }
        #expect(throws: CBCDecryption.Failure.badPadding) { try CBCDecryption.unpad([1, 2, 3, 4, 5, 6, 7, 0], blockSize: 8) }
        #expect(throws: CBCDecryption.Failure.badPadding) { try CBCDecryption.unpad([1, 2, 3, 4, 5, 6, 3, 2], blockSize: 8) }
        #expect(try CBCDecryption.unpad([1, 2, 3, 4, 5, 6, 2, 2], blockSize: 8) == [1, 2, 3, 4, 5, 6])
    }
}
