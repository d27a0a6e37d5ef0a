/// Lowercase hex of bytes (digests in annotations, file names and cache keys). Written by hand: `String(format:
/// "%02x")` per byte goes through CoreFoundation's formatter, which showed in the publish path's profile.
public func lowercaseHex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
    let digits = Array("0123456789abcdef".utf8)
    return String(decoding: bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xf)]] }, as: UTF8.self)
}
