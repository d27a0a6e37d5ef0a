import Crypto

/// The PKCS#12 key-derivation function of RFC 7292 Appendix B.2.
enum PKCS12KeyDerivation {
    /// The "ID" diversifier byte of Appendix B.3.
    enum Purpose: UInt8 {
        case encryptionKey = 1
        case initializationVector = 2
        case macKey = 3
    }

    /// Derives `count` bytes from a BMPString password (with its two-byte terminator) and salt.
    static func derive<H: HashFunction>(
        _: H.Type, purpose: Purpose, password: [UInt8], salt: [UInt8], iterations: Int, count: Int
    ) -> [UInt8] {
        let u = H.Digest.byteCount
        let v = H.blockByteCount
        let diversifier = [UInt8](repeating: purpose.rawValue, count: v)

        // I = S || P, each repeated to a multiple of v bytes.
        var input = repeated(salt, toMultipleOf: v) + repeated(password, toMultipleOf: v)
        var output: [UInt8] = []
        output.reserveCapacity(count + u)

        while output.count < count {
            var hasher = H()
            hasher.update(data: diversifier)
            hasher.update(data: input)
            var block = [UInt8](repeating: 0, count: u)
            copy(hasher.finalize(), into: &block)
            for _ in 1..<max(iterations, 1) {
                // Buffer-pointer hashing avoids per-iteration allocations (this loop runs thousands of times).
                var next = H()
                block.withUnsafeBytes { next.update(bufferPointer: $0) }
                copy(next.finalize(), into: &block)
            }
            output += block
            guard output.count < count else { break }

            // B = A repeated to v bytes; every v-byte block of I becomes (I_j + B + 1) mod 2^(8v).
            let b = (0..<v).map { block[$0 % u] }
            var offset = 0
            while offset < input.count {
                var carry: UInt16 = 1
                for index in stride(from: v - 1, through: 0, by: -1) {
                    let sum = UInt16(input[offset + index]) + UInt16(b[index]) + carry
                    input[offset + index] = UInt8(truncatingIfNeeded: sum)
                    carry = sum >> 8
                }
                offset += v
            }
        }
        return Array(output.prefix(count))
    }

    private static func copy<D: Digest>(_ digest: D, into block: inout [UInt8]) {
        digest.withUnsafeBytes { source in
            block.withUnsafeMutableBytes { $0.copyMemory(from: source) }
        }
    }

    private static func repeated(_ bytes: [UInt8], toMultipleOf v: Int) -> [UInt8] {
        guard !bytes.isEmpty else { return [] }
        let length = v * ((bytes.count + v - 1) / v)
        return (0..<length).map { bytes[$0 % bytes.count] }
    }
}
