/// What a PKCS#12 file holds once opened.
public struct PKCS12Contents: Sendable, Equatable {
    /// Private keys as unencrypted PKCS#8 PrivateKeyInfo DER, in file order.
    public var privateKeys: [[UInt8]]
    /// X.509 certificates as DER, in file order.
    public var certificates: [[UInt8]]

    /// Creates contents from keys and certificates.
    public init(privateKeys: [[UInt8]] = [], certificates: [[UInt8]] = []) {
        self.privateKeys = privateKeys
        self.certificates = certificates
    }
}
