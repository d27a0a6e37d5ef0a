/// Safety limits applied while reading a PFX, so hostile input cannot exhaust memory or CPU.
enum PKCS12Limits {
    /// Largest accepted PFX (1 MiB); Key Vault PFX files are a few kilobytes.
    static let maximumInputBytes = 1 << 20
    /// Largest iteration count accepted for any one key derivation or MAC.
    static let maximumIterations = 10_000_000
    /// Total iterations across all derivations of one read (MAC attempts included).
    static let maximumTotalIterations = 40_000_000
    /// Deepest nesting of SafeContents inside safeContentsBag.
    static let maximumNesting = 8
    /// Most SafeBags and ContentInfos in one file.
    static let maximumBags = 10_000
}

/// The iteration budget shared by every derivation of one read.
struct PKCS12WorkBudget {
    private(set) var remaining = PKCS12Limits.maximumTotalIterations

    /// Validates one iteration count and charges it to the budget.
    mutating func charge(_ iterations: Int, field: String) throws(PKCS12Error) {
        guard iterations >= 1, iterations <= PKCS12Limits.maximumIterations else {
            throw .iterationCountOutOfRange(field: field, value: iterations, limit: PKCS12Limits.maximumIterations)
        }
        guard iterations <= remaining else {
            throw .limitExceeded(what: "total key-derivation iterations", limit: PKCS12Limits.maximumTotalIterations)
        }
        remaining -= iterations
    }
}

/// One way of turning the caller's password into bytes: BMPString for PKCS#12 PBE and MAC, UTF-8 for PBES2.
struct PFXPassword {
    let bmp: [UInt8]
    let utf8: [UInt8]

    /// The encodings to try, in order. An empty password is tried as BMPString "" (two zero bytes) and,
    /// like OpenSSL and Go, as the zero-length password.
    static func candidates(for password: String) -> [PFXPassword] {
        let utf8 = Array(password.utf8)
        var bmp: [UInt8] = []
        for unit in password.utf16 {
            bmp.append(UInt8(truncatingIfNeeded: unit >> 8))
            bmp.append(UInt8(truncatingIfNeeded: unit))
        }
        bmp += [0, 0]
        if password.isEmpty {
            return [PFXPassword(bmp: bmp, utf8: utf8), PFXPassword(bmp: [], utf8: utf8)]
        }
        return [PFXPassword(bmp: bmp, utf8: utf8)]
    }
}
