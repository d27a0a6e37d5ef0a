import Foundation
import Testing
import ObjectFormats

@Suite("ObjectEncoding and ObjectFormat")
struct ObjectEncodingTests {
    @Test("parses case-insensitively, empty meaning utf-8")
    func parsing() throws {
        #expect(try ObjectEncoding(parsing: "UTF-8") == .utf8)
        #expect(try ObjectEncoding(parsing: "") == .utf8)
        #expect(try ObjectEncoding(parsing: "Hex") == .hex)
        #expect(try ObjectEncoding(parsing: "BASE64") == .base64)
        #expect(throws: ObjectEncodingError.invalidEncoding("utf8")) { try ObjectEncoding(parsing: "utf8") }
        #expect(ObjectEncodingError.invalidEncoding("foo").description == "invalid objectEncoding: foo, should be hex, base64 or utf-8")
        #expect(try ObjectFormat(parsing: "PFX") == .pfx)
        #expect(try ObjectFormat(parsing: "") == .pem)
        #expect(ObjectFormatError.invalidFormat("der").description == "invalid objectFormat: der, should be PEM or PFX")
    }

    @Test("decodes like Go's encoding/hex and encoding/base64")
    func decoding() throws {
        var rng = SeededGenerator(seed: 42)
        for length in 0..<40 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            #expect(try ObjectEncoding.base64.decode(Data(bytes).base64EncodedString()) == bytes)
            #expect(try ObjectEncoding.hex.decode(hex(bytes)) == bytes)
            #expect(try ObjectEncoding.hex.decode(hex(bytes).uppercased()) == bytes)
        }
        #expect(try ObjectEncoding.utf8.decode("héllo") == Array("héllo".utf8))
        // Go ignores CR and LF inside base64.
        #expect(try ObjectEncoding.base64.decode("aGVs\r\nbG8=\n") == Array("hello".utf8))
    }

    @Test("reports bad input without echoing it")
    func errors() {
        #expect(throws: ObjectEncodingError.invalidBase64(offset: 4)) { try ObjectEncoding.base64.decode("aGVsbG8") }
        #expect(throws: ObjectEncodingError.invalidBase64(offset: 2)) { try ObjectEncoding.base64.decode("aG Vs") }
        #expect(throws: ObjectEncodingError.self) { try ObjectEncoding.base64.decode("aGVsbG8=x===") }
        #expect(throws: ObjectEncodingError.self) { try ObjectEncoding.base64.decode("a===") }
        #expect(throws: ObjectEncodingError.oddLengthHex) { try ObjectEncoding.hex.decode("abc") }
        #expect(throws: ObjectEncodingError.invalidHex(offset: 1)) { try ObjectEncoding.hex.decode("ag") }
        let message = ObjectEncodingError.invalidHex(offset: 1).description
        #expect(!message.contains("ag"))
    }
}
