import Foundation

/// The SecretProviderClass `objectEncoding` of a secret: how its value is decoded before it is written.
public enum ObjectEncoding: String, Sendable, CaseIterable {
    /// Write the value's UTF-8 bytes (the default).
    case utf8 = "utf-8"
    /// Decode the value as hexadecimal.
    case hex
    /// Decode the value as standard, padded base64.
    case base64

    /// Parses "utf-8", "hex" or "base64" case-insensitively; an empty string means utf-8.
    public init(parsing text: String) throws(ObjectEncodingError) {
        switch text.lowercased() {
        case "", "utf-8": self = .utf8
        case "hex": self = .hex
        case "base64": self = .base64
        default: throw .invalidEncoding(text)
        }
    }

    /// The bytes to write for `value`, decoded as Go's encoding/hex and encoding/base64 (StdEncoding) would.
    public func decode(_ value: String) throws(ObjectEncodingError) -> [UInt8] {
        switch self {
        case .utf8:
            return Array(value.utf8)
        case .base64:
            do {
                return try Base64.decodeStandard(value)
            } catch {
                throw .invalidBase64(offset: error.offset)
            }
        case .hex:
            return try Self.decodeHex(value)
        }
    }

    private static func decodeHex(_ value: String) throws(ObjectEncodingError) -> [UInt8] {
        let digits = Array(value.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var index = 0
        while index + 1 < digits.count {
            guard let high = nibble(digits[index]) else { throw .invalidHex(offset: index) }
            guard let low = nibble(digits[index + 1]) else { throw .invalidHex(offset: index + 1) }
            out.append(high << 4 | low)
            index += 2
        }
        if digits.count % 2 == 1 {
            guard nibble(digits[digits.count - 1]) != nil else { throw .invalidHex(offset: digits.count - 1) }
            throw .oddLengthHex
        }
        return out
    }

    private static func nibble(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return character - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// Why an `objectEncoding` could not be parsed or applied; never contains the secret value.
public enum ObjectEncodingError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    /// The SecretProviderClass names an unknown encoding.
    case invalidEncoding(String)
    /// The value is not standard padded base64; `offset` is the first bad character.
    case invalidBase64(offset: Int)
    /// The value has a non-hex character at `offset`.
    case invalidHex(offset: Int)
    /// The value has an odd number of hex digits.
    case oddLengthHex

    /// A human-readable explanation naming the failing field and the fix.
    public var description: String {
        switch self {
        case let .invalidEncoding(text):
            return "invalid objectEncoding: \(text), should be hex, base64 or utf-8"
        case let .invalidBase64(offset):
            return "secret value is not valid base64 (illegal base64 data at input byte \(offset)); "
                + "store standard padded base64 in Key Vault or change objectEncoding"
        case let .invalidHex(offset):
            return "secret value is not valid hex (invalid byte at offset \(offset)); "
                + "store hexadecimal text in Key Vault or change objectEncoding"
        case .oddLengthHex:
            return "secret value is not valid hex (odd length hex string); "
                + "store an even number of hex digits in Key Vault or change objectEncoding"
        }
    }

    /// Same as `description`, for `localizedDescription`.
    public var errorDescription: String? { description }
}
