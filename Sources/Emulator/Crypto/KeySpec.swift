/// The kind and size of a key to generate: RSA with a modulus size, or EC on a NIST curve.
public enum KeySpec: Sendable, Hashable {
    /// RSA key; Key Vault accepts 2048, 3072 and 4096 bits.
    case rsa(bits: Int)
    /// Elliptic-curve key on the given curve.
    case ec(curve: ECCurve)

    /// Key Vault's `kty` value for this spec: "RSA" or "EC".
    public var keyType: String {
        switch self {
        case .rsa: return "RSA"
        case .ec: return "EC"
        }
    }
}
