import Foundation
import SwiftASN1

/// Small byte/text encoding helpers shared by the crypto files (base64url, hex, PEM).
enum CryptoEncoding {
    /// Base64url without padding (RFC 7515 §2).
    static func base64URL<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var text = Data(bytes).base64EncodedString()
        while text.hasSuffix("=") { text.removeLast() }
        return String(text.map { character -> Character in
            switch character {
            case "+": return "-"
            case "/": return "_"
            default: return character
            }
        })
    }

    /// Upper-case hexadecimal without separators.
    static func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let digits = Array("0123456789ABCDEF")
        var text = ""
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return text
    }

    /// PEM block with the given label, always ending in a newline.
    static func pem(label: String, der: [UInt8]) -> String {
        let text = PEMDocument(type: label, derBytes: der).pemString
        return text.hasSuffix("\n") ? text : text + "\n"
    }

    /// Removes leading zero bytes (keeps at least one byte).
    static func strippingLeadingZeros<Bytes: Collection>(_ bytes: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        let trimmed = Array(bytes.drop(while: { $0 == 0 }))
        return trimmed.isEmpty ? [0] : trimmed
    }

    /// Cryptographically secure random bytes from the system generator.
    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }
}
