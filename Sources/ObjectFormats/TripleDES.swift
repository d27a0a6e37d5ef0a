// Why this file exists (library decision):
// Azure Key Vault's PFX files use pbeWithSHAAnd3-KeyTripleDES-CBC for the key and
// pbeWithSHAAnd40BitRC2-CBC for the certificates. swift-crypto's public API (Crypto,
// _CryptoExtras) has neither cipher. Its BoringSSL copy does contain DES_ede3_cbc_encrypt and
// RC2 (crypto/cipher/e_rc2.cc), but swift-crypto 3.12.3 and 4.5.2 do not export the
// `CCryptoBoringSSL` target as a library product (the product line is commented out in
// Package.swift), so another package cannot link it. swift-nio-ssl's NIOSSLPKCS12Bundle wraps
// BoringSSL's PKCS#12 parser but is outside this module's dependency set and does not hand back
// the PKCS#8 bytes. So DES/3DES and RC2 *decryption only* are implemented here, small and
// checked against openssl-generated known answers (Tests/ObjectFormatsTests/LegacyCipherTests).
// They are used only to open legacy PFX files, never to protect new data.

/// DES (FIPS 46-3) and two- or three-key Triple DES (EDE) block decryption.
struct TripleDES: BlockDecrypting {
    private let first: DES
    private let second: DES
    private let third: DES

    /// `key` is 24 bytes (K1 K2 K3) or 16 bytes (K1 K2, with K3 = K1).
    init?(key: [UInt8]) {
        guard key.count == 24 || key.count == 16 else { return nil }
        first = DES(key: Array(key[0..<8]))
        second = DES(key: Array(key[8..<16]))
        third = key.count == 24 ? DES(key: Array(key[16..<24])) : first
    }

    /// EDE decryption: P = D_K1(E_K2(D_K3(C))). Between stages FP then IP cancel out, leaving only the
    /// final half swap, so IP and FP run once per block.
    func decryptBlock(_ block: UInt64) -> UInt64 {
        var halves = DES.initialPermutation(block)
        halves = third.rounds(halves, reverse: true)
        halves = second.rounds((halves.1, halves.0), reverse: false)
        halves = first.rounds((halves.1, halves.0), reverse: true)
        return DES.finalPermutation(halves)
    }
}

/// Single DES over 64-bit blocks held in a `UInt64` (bit 1 of the standard is the most significant bit).
struct DES: BlockDecrypting {
    private let subkeys: [UInt64]

    init(key: [UInt8]) {
        precondition(key.count == 8)
        let permuted = DES.permute(CBCDecryption.load(key, at: 0), inputWidth: 64, table: Tables.pc1)
        var c = UInt32(truncatingIfNeeded: permuted >> 28) & 0x0FFF_FFFF
        var d = UInt32(truncatingIfNeeded: permuted) & 0x0FFF_FFFF
        var keys: [UInt64] = []
        keys.reserveCapacity(16)
        for shift in Tables.shifts {
            c = ((c << shift) | (c >> (28 - shift))) & 0x0FFF_FFFF
            d = ((d << shift) | (d >> (28 - shift))) & 0x0FFF_FFFF
            let combined = (UInt64(c) << 28) | UInt64(d)
            keys.append(DES.permute(combined, inputWidth: 56, table: Tables.pc2))
        }
        subkeys = keys
    }

    func decryptBlock(_ block: UInt64) -> UInt64 {
        DES.finalPermutation(rounds(DES.initialPermutation(block), reverse: true))
    }

    /// IP, split into (L0, R0).
    static func initialPermutation(_ block: UInt64) -> (UInt32, UInt32) {
        let permuted = permute(block, inputWidth: 64, table: Tables.initialPermutation)
        return (UInt32(truncatingIfNeeded: permuted >> 32), UInt32(truncatingIfNeeded: permuted))
    }

    /// IP⁻¹ of R16 L16 (the halves are swapped after the last round).
    static func finalPermutation(_ halves: (UInt32, UInt32)) -> UInt64 {
        permute((UInt64(halves.1) << 32) | UInt64(halves.0), inputWidth: 64, table: Tables.finalPermutation)
    }

    /// The sixteen Feistel rounds; `reverse` uses the subkeys backwards (decryption). Returns (L16, R16).
    func rounds(_ halves: (UInt32, UInt32), reverse: Bool) -> (UInt32, UInt32) {
        var (left, right) = halves
        let sp = Tables.sp
        for round in 0..<16 {
            let key = subkeys[reverse ? 15 - round : round]
            let mixed = DES.expand(right) ^ key
            var f: UInt32 = 0
            for box in 0..<8 {
                f |= sp[box * 64 + Int((mixed >> UInt64(42 - 6 * box)) & 0x3F)]
            }
            (left, right) = (right, left ^ f)
        }
        return (left, right)
    }

    /// E(R) as 48 bits: eight overlapping 6-bit groups, group i being bits 4i...4i+5 of R rotated right by one.
    /// Equal to permuting with `Tables.expansion` (checked by a test), without the per-bit loop.
    static func expand(_ right: UInt32) -> UInt64 {
        let rotated = (right >> 1) | (right << 31)
        var expanded: UInt64 = 0
        for group in 0..<8 {
            let shift = UInt32((4 * group + 6) % 32)
            let sixBits = ((rotated << shift) | (rotated >> (32 - shift))) & 0x3F
            expanded = (expanded << 6) | UInt64(sixBits)
        }
        return expanded
    }

    /// Output bit i (from the most significant end) is input bit `table[i]` (1-based from the most significant end).
    static func permute(_ input: UInt64, inputWidth: Int, table: [UInt8]) -> UInt64 {
        var output: UInt64 = 0
        for position in table {
            output = (output << 1) | ((input >> UInt64(inputWidth - Int(position))) & 1)
        }
        return output
    }

    /// The permutation and substitution tables of FIPS 46-3.
    enum Tables {
        static let initialPermutation: [UInt8] = [
            58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4,
            62, 54, 46, 38, 30, 22, 14, 6, 64, 56, 48, 40, 32, 24, 16, 8,
            57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3,
            61, 53, 45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7,
        ]

        /// IP⁻¹, computed as the inverse of IP.
        static let finalPermutation: [UInt8] = {
            var inverse = [UInt8](repeating: 0, count: 64)
            for (index, source) in initialPermutation.enumerated() {
                inverse[Int(source) - 1] = UInt8(index + 1)
            }
            return inverse
        }()

        static let expansion: [UInt8] = [
            32, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9, 8, 9, 10, 11, 12, 13, 12, 13, 14, 15, 16, 17,
            16, 17, 18, 19, 20, 21, 20, 21, 22, 23, 24, 25, 24, 25, 26, 27, 28, 29, 28, 29, 30, 31, 32, 1,
        ]

        static let permutation: [UInt8] = [
            16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10,
            2, 8, 24, 14, 32, 27, 3, 9, 19, 13, 30, 6, 22, 11, 4, 25,
        ]

        static let pc1: [UInt8] = [
            57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18,
            10, 2, 59, 51, 43, 35, 27, 19, 11, 3, 60, 52, 44, 36,
            63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22,
            14, 6, 61, 53, 45, 37, 29, 21, 13, 5, 28, 20, 12, 4,
        ]

        static let pc2: [UInt8] = [
            14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10,
            23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2,
            41, 52, 31, 37, 47, 55, 30, 40, 51, 45, 33, 48,
            44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32,
        ]

        static let shifts: [UInt32] = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1]

        /// S1...S8, each four rows of sixteen.
        static let sboxes: [[UInt8]] = [
            [14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7,
             0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12, 11, 9, 5, 3, 8,
             4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0,
             15, 12, 8, 2, 4, 9, 1, 7, 5, 11, 3, 14, 10, 0, 6, 13],
            [15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10,
             3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1, 10, 6, 9, 11, 5,
             0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15,
             13, 8, 10, 1, 3, 15, 4, 2, 11, 6, 7, 12, 0, 5, 14, 9],
            [10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8,
             13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5, 14, 12, 11, 15, 1,
             13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7,
             1, 10, 13, 0, 6, 9, 8, 7, 4, 15, 14, 3, 11, 5, 2, 12],
            [7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15,
             13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2, 12, 1, 10, 14, 9,
             10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4,
             3, 15, 0, 6, 10, 1, 13, 8, 9, 4, 5, 11, 12, 7, 2, 14],
            [2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9,
             14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15, 10, 3, 9, 8, 6,
             4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14,
             11, 8, 12, 7, 1, 14, 2, 13, 6, 15, 0, 9, 10, 4, 5, 3],
            [12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11,
             10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13, 14, 0, 11, 3, 8,
             9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6,
             4, 3, 2, 12, 9, 5, 15, 10, 11, 14, 1, 7, 6, 0, 8, 13],
            [4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1,
             13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5, 12, 2, 15, 8, 6,
             1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2,
             6, 11, 13, 8, 1, 4, 10, 7, 9, 5, 0, 15, 14, 2, 3, 12],
            [13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7,
             1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6, 11, 0, 14, 9, 2,
             7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8,
             2, 1, 14, 7, 4, 10, 8, 13, 15, 12, 9, 0, 3, 5, 6, 11],
        ]

        /// S-box output already passed through P: sp[box * 64 + six input bits] is that box's share of f's output.
        static let sp: [UInt32] = (0..<8).flatMap { box in
            (0..<64).map { six in
                let row = ((six >> 4) & 0x2) | (six & 0x1)
                let column = (six >> 1) & 0xF
                let nibble = UInt64(sboxes[box][row * 16 + column])
                let placed = nibble << UInt64(28 - 4 * box)
                return UInt32(truncatingIfNeeded: DES.permute(placed, inputWidth: 32, table: permutation))
            }
        }
    }
}
