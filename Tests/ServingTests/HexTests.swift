import Testing
@testable import Serving

/// Digests in annotations and file names keep the format `String(format: "%02x")` gave them.
@Suite struct HexTests {
    @Test func everyByteIsTwoLowercaseDigits() {
        #expect(lowercaseHex([UInt8]()) == "")
        #expect(lowercaseHex([0x00, 0x0f, 0x10, 0xab, 0xff]) == "000f10abff")
        let all = (0...255).map { UInt8($0) }
        let expected = all.map { byte in String(byte, radix: 16).count == 1 ? "0" + String(byte, radix: 16) : String(byte, radix: 16) }.joined()
        #expect(lowercaseHex(all) == expected)
    }
}
