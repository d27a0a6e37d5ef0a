import Foundation

/// Turns a certificate-backed Key Vault secret (one with `kid` set) into the bytes the provider writes.
///
/// - `application/x-pem-file`: the value as-is, whatever the objectFormat (as upstream does).
/// - `application/x-pkcs12` with `.pfx`: the base64-decoded PFX bytes. Upstream writes the stored base64
///   text and relies on `objectEncoding: base64` to decode it; the bytes here equal that documented setup.
/// - `application/x-pkcs12` with `.pem`: the PFX is opened with the empty password and written as PKCS#8
///   "PRIVATE KEY" blocks first, then "CERTIFICATE" blocks (leaf → root when `constructChain`).
/// - any other content type: an error.
public enum SecretFormatter {
    /// Content type of a certificate secret stored as PEM.
    public static let pemContentType = "application/x-pem-file"
    /// Content type of a certificate secret stored as base64 PKCS#12.
    public static let pkcs12ContentType = "application/x-pkcs12"

    /// The file bytes for a certificate-backed secret with the given content type and objectFormat.
    public static func format(
        value: String, contentType: String, format: ObjectFormat, constructChain: Bool
    ) throws(SecretFormatError) -> [UInt8] {
        switch contentType {
        case pemContentType:
            return Array(value.utf8)
        case pkcs12ContentType where format == .pfx:
            return try decodePFX(value)
        case pkcs12ContentType:
            return Array(try pemFromPKCS12(try decodePFX(value), constructChain: constructChain).utf8)
        default:
            throw .unknownContentType(contentType)
        }
    }

    /// The PFX bytes of a base64 secret value, decoded as Go's base64.StdEncoding does.
    private static func decodePFX(_ value: String) throws(SecretFormatError) -> [UInt8] {
        do {
            return try Base64.decodeStandard(value)
        } catch {
            throw .invalidPFXBase64(offset: error.offset)
        }
    }

    /// Opens the PFX with the empty password and writes keys, then certificates, as PEM.
    private static func pemFromPKCS12(_ der: [UInt8], constructChain: Bool) throws(SecretFormatError) -> String {
        let contents: PKCS12Contents
        do {
            contents = try PKCS12Reader.read(der, password: "")
        } catch {
            throw .pfx(error)
        }
        var pem = ""
        for key in contents.privateKeys {
            do {
                pem += PEM.encode(label: "PRIVATE KEY", der: try PrivateKeyInfo.canonical(key))
            } catch {
                throw .pfx(error)
            }
        }
        let certificates = constructChain ? CertificateChain.order(contents.certificates).ordered : contents.certificates
        for certificate in certificates {
            pem += PEM.encode(label: "CERTIFICATE", der: certificate)
        }
        return pem
    }
}

/// Why a certificate-backed secret could not be formatted; never contains key bytes.
public enum SecretFormatError: Error, Equatable, Sendable, CustomStringConvertible, LocalizedError {
    /// The secret's content type is neither application/x-pem-file nor application/x-pkcs12.
    case unknownContentType(String)
    /// The application/x-pkcs12 value is not standard base64.
    case invalidPFXBase64(offset: Int)
    /// The PFX could not be opened.
    case pfx(PKCS12Error)

    /// A human-readable explanation naming the failing field and the fix.
    public var description: String {
        switch self {
        case let .unknownContentType(contentType):
            return "failed to get certificate. unknown content type '\(contentType)'; "
                + "the certificate's secret must be application/x-pem-file or application/x-pkcs12 (set by the certificate policy's secret_props.contentType)"
        case let .invalidPFXBase64(offset):
            return "failed to decode the PFX of an application/x-pkcs12 secret: illegal base64 data at input byte \(offset); "
                + "re-import the certificate so Key Vault stores a valid PFX"
        case let .pfx(error):
            return "failed to convert the PFX of an application/x-pkcs12 secret to PEM: \(error.description)"
        }
    }

    /// Same as `description`, for `localizedDescription`.
    public var errorDescription: String? { description }
}
