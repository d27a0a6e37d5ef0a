#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Converts textual IPv4/IPv6 addresses to the network-order bytes used in iPAddress SANs.
enum IPAddressParser {
    /// 4 bytes for IPv4, 16 for IPv6, nil when `text` is neither.
    static func bytes(_ text: String) -> [UInt8]? {
        var v4 = [UInt8](repeating: 0, count: 4)
        if v4.withUnsafeMutableBytes({ inet_pton(AF_INET, text, $0.baseAddress) }) == 1 {
            return v4
        }
        var v6 = [UInt8](repeating: 0, count: 16)
        let host = text.hasPrefix("[") && text.hasSuffix("]") ? String(text.dropFirst().dropLast()) : text
        if v6.withUnsafeMutableBytes({ inet_pton(AF_INET6, host, $0.baseAddress) }) == 1 {
            return v6
        }
        return nil
    }
}
