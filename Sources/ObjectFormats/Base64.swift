/// Base64 as Go's encoding/base64 does it, so values decode exactly as the upstream provider decodes them.
enum Base64 {
    /// The input is not valid base64; `offset` is the first bad character (0-based, after dropping line breaks).
    struct Failure: Error, Equatable {
        let offset: Int
    }

    private static let standardAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Standard alphabet with padding, no line breaks.
    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            let b0 = chunk[chunk.startIndex]
            let b1 = chunk.count > 1 ? chunk[chunk.startIndex + 1] : 0
            let b2 = chunk.count > 2 ? chunk[chunk.startIndex + 2] : 0
            out.append(standardAlphabet[Int(b0 >> 2)])
            out.append(standardAlphabet[Int((b0 & 0x03) << 4 | b1 >> 4)])
            out.append(chunk.count > 1 ? standardAlphabet[Int((b1 & 0x0F) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            out.append(chunk.count > 2 ? standardAlphabet[Int(b2 & 0x3F)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Go's `base64.StdEncoding.DecodeString`: padding required, CR and LF ignored, anything else rejected.
    static func decodeStandard(_ text: String) throws(Failure) -> [UInt8] {
        let characters = text.utf8.filter { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }
        return try decode(characters, urlSafe: false, padded: true)
    }

    /// Base64url for JWK fields, tolerating trailing padding and the standard alphabet.
    static func decodeURL(_ text: String) throws(Failure) -> [UInt8] {
        var characters = Array(text.utf8)
        while characters.last == UInt8(ascii: "=") { characters.removeLast() }
        guard characters.count % 4 != 1 else { throw Failure(offset: characters.count - 1) }
        return try decode(characters, urlSafe: true, padded: false)
    }

    private static func value(_ character: UInt8, urlSafe: Bool) -> UInt8? {
        switch character {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return character - UInt8(ascii: "A")
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return character - UInt8(ascii: "a") + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return character - UInt8(ascii: "0") + 52
        case UInt8(ascii: "+"): return 62
        case UInt8(ascii: "/"): return 63
        case UInt8(ascii: "-") where urlSafe: return 62
        case UInt8(ascii: "_") where urlSafe: return 63
        default: return nil
        }
    }

    private static func decode(_ characters: [UInt8], urlSafe: Bool, padded: Bool) throws(Failure) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(characters.count / 4 * 3)
        var quad: [UInt8] = []
        var index = 0
        while index < characters.count {
            let character = characters[index]
            if padded && character == UInt8(ascii: "=") {
                // Padding may only fill the last one or two places of the final quantum.
                let remaining = characters.count - index
                let filled = quad.count
                guard index >= characters.count - 2, filled >= 2,
                      characters[index...].allSatisfy({ $0 == UInt8(ascii: "=") }), filled + remaining == 4
                else { throw Failure(offset: index) }
                break
            }
            guard let sextet = value(character, urlSafe: urlSafe) else { throw Failure(offset: index) }
            quad.append(sextet)
            if quad.count == 4 {
                out.append(quad[0] << 2 | quad[1] >> 4)
                out.append(quad[1] << 4 | quad[2] >> 2)
                out.append(quad[2] << 6 | quad[3])
                quad.removeAll(keepingCapacity: true)
            }
            index += 1
        }
        if padded && index == characters.count && !quad.isEmpty {
            // An unpadded final quantum: Go reports the offset where that quantum starts.
            throw Failure(offset: characters.count - quad.count)
        }
        switch quad.count {
        case 0: break
        case 2: out.append(quad[0] << 2 | quad[1] >> 4)
        case 3:
            out.append(quad[0] << 2 | quad[1] >> 4)
            out.append(quad[1] << 4 | quad[2] >> 2)
        default: throw Failure(offset: characters.count)
        }
        return out
    }
}
