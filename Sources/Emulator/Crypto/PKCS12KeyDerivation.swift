import Crypto

/// The PKCS#12 password-based key derivation of RFC 7292 Appendix B.2, instantiated with SHA-256.
enum PKCS12KeyDerivation {
    /// Purpose byte ("ID") of Appendix B.3: 1 = encryption key, 2 = IV, 3 = MAC key.
    enum Purpose: UInt8 {
        case encryptionKey = 1
        case iv = 2
        case macKey = 3
    }

    /// SHA-256 output size (u) and block size (v) in bytes.
    static let u = 32
    static let v = 64

    /// BMPString encoding of a password: UTF-16BE code units plus a two-byte zero terminator ("" -> 00 00).
    static func bmpPassword(_ password: String) -> [UInt8] {
        var bytes: [UInt8] = []
        for unit in password.utf16 {
            bytes.append(UInt8(unit >> 8))
            bytes.append(UInt8(unit & 0xFF))
        }
        return bytes + [0, 0]
    }

    /// Derives `count` bytes from the BMP-encoded `password` and `salt` with `iterations` rounds.
    static func derive(
        password: [UInt8], salt: [UInt8], purpose: Purpose, iterations: Int, count: Int
    ) -> [UInt8] {
        precondition(iterations >= 1, "PKCS#12 KDF needs at least one iteration")
        let diversifier = [UInt8](repeating: purpose.rawValue, count: v)
        var input = fill(salt) + fill(password)
        var output: [UInt8] = []
        output.reserveCapacity(count + u)
        while true {
            var block = Array(SHA256.hash(data: diversifier + input))
            for _ in 1..<iterations {
                block = Array(SHA256.hash(data: block))
            }
            output += block
            if output.count >= count { break }
            // I_j = (I_j + B + 1) mod 2^(8v) for every v-byte block of I, where B is the hash repeated to v bytes.
            let expanded = (0..<v).map { block[$0 % u] }
            for start in stride(from: 0, to: input.count, by: v) {
                var carry: UInt16 = 1
                for offset in (0..<v).reversed() {
                    let sum = UInt16(input[start + offset]) + UInt16(expanded[offset]) + carry
                    input[start + offset] = UInt8(truncatingIfNeeded: sum)
                    carry = sum >> 8
                }
            }
        }
        return Array(output.prefix(count))
    }

    /// Repeats `bytes` to the next multiple of v bytes (empty stays empty).
    private static func fill(_ bytes: [UInt8]) -> [UInt8] {
        guard !bytes.isEmpty else { return [] }
        let length = v * ((bytes.count + v - 1) / v)
        return (0..<length).map { bytes[$0 % bytes.count] }
    }
}
