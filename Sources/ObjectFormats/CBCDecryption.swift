/// A 64-bit block cipher that can decrypt one block, held big-endian in a `UInt64`.
protocol BlockDecrypting {
    func decryptBlock(_ block: UInt64) -> UInt64
}

/// Cipher-block-chaining decryption and PKCS#7 padding removal for 8-byte block ciphers.
enum CBCDecryption {
    enum Failure: Error { case badLength, badPadding }

    /// Decrypts `ciphertext` in CBC mode and strips PKCS#7 padding.
    static func decrypt(_ ciphertext: [UInt8], iv: [UInt8], cipher: some BlockDecrypting) throws(Failure) -> [UInt8] {
        guard iv.count == 8, !ciphertext.isEmpty, ciphertext.count % 8 == 0 else { throw .badLength }
        var plaintext = [UInt8](repeating: 0, count: ciphertext.count)
        var previous = load(iv, at: 0)
        var offset = 0
        while offset < ciphertext.count {
            let current = load(ciphertext, at: offset)
            store(cipher.decryptBlock(current) ^ previous, into: &plaintext, at: offset)
            previous = current
            offset += 8
        }
        return try unpad(plaintext, blockSize: 8)
    }

    /// Removes PKCS#7 padding, checking every pad byte.
    static func unpad(_ plaintext: [UInt8], blockSize: Int) throws(Failure) -> [UInt8] {
        guard let last = plaintext.last else { throw .badPadding }
        let pad = Int(last)
        guard pad >= 1, pad <= blockSize, pad <= plaintext.count else { throw .badPadding }
        var mismatch: UInt8 = 0
        for byte in plaintext.suffix(pad) { mismatch |= byte ^ last }
        guard mismatch == 0 else { throw .badPadding }
        return Array(plaintext.dropLast(pad))
    }

    /// Eight bytes starting at `offset`, big-endian.
    static func load(_ bytes: [UInt8], at offset: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in offset..<offset + 8 { value = (value << 8) | UInt64(bytes[index]) }
        return value
    }

    static func store(_ value: UInt64, into bytes: inout [UInt8], at offset: Int) {
        for index in 0..<8 { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> UInt64(56 - 8 * index)) }
    }
}
