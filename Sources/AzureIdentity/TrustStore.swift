import Foundation
import NIOSSL

/// Which CA certificates the Azure clients trust, and how a failed verification is recognised.
public enum TrustStore {
    /// The roots named by `SSL_CERT_FILE` (a PEM bundle) and `SSL_CERT_DIR` (colon-separated folders of PEM files),
    /// which replace the system roots as they do for Go and OpenSSL programs; nil when neither is set.
    public static func environmentRoots(_ environment: [String: String]) throws(TrustError) -> [NIOSSLCertificate]? {
        let file = environment["SSL_CERT_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        let dirs = (environment["SSL_CERT_DIR"] ?? "").split(separator: ":").map(String.init).filter { !$0.isEmpty }
        guard file != nil || !dirs.isEmpty else { return nil }
        var roots: [NIOSSLCertificate] = []
        if let file { roots += try certificates(file: file, source: "SSL_CERT_FILE") }
        for dir in dirs {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else {
                throw .unreadable(source: "SSL_CERT_DIR", path: dir, reason: "the folder cannot be listed")
            }
            for name in names.sorted() where !name.hasPrefix(".") {
                let path = (dir as NSString).appendingPathComponent(name)
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
                // As Go does, files that hold no PEM certificate are skipped.
                roots += (try? NIOSSLCertificate.fromPEMFile(path)) ?? []
            }
        }
        guard !roots.isEmpty else {
            throw .empty(source: file != nil ? "SSL_CERT_FILE" : "SSL_CERT_DIR", path: ([file].compactMap { $0 } + dirs).joined(separator: ":"))
        }
        return roots
    }

    /// The PEM certificates of one file, naming the flag or variable that gave it on error.
    public static func certificates(file: String, source: String) throws(TrustError) -> [NIOSSLCertificate] {
        guard FileManager.default.isReadableFile(atPath: file) else { throw .unreadable(source: source, path: file, reason: "the file cannot be read") }
        let certificates: [NIOSSLCertificate]
        do { certificates = try NIOSSLCertificate.fromPEMFile(file) } catch {
            throw .unreadable(source: source, path: file, reason: "not a PEM certificate bundle (\(error))")
        }
        guard !certificates.isEmpty else { throw .empty(source: source, path: file) }
        return certificates
    }

    /// The reason, when `error` is a certificate that did not verify (untrusted issuer, expired, wrong host name).
    public static func verificationFailure(_ error: any Error) -> String? {
        if let extra = error as? NIOSSLExtraError, extra == .failedToValidateHostname { return "the certificate does not name this host" }
        let text = String(describing: error)
        for marker in ["CERTIFICATE_VERIFY_FAILED", "certificate verify failed", "unable to get local issuer certificate",
                       "self signed certificate", "self-signed certificate", "certificate has expired", "certificate is not yet valid"]
        where text.localizedCaseInsensitiveContains(marker) {
            return marker == "CERTIFICATE_VERIFY_FAILED" ? "CERTIFICATE_VERIFY_FAILED" : marker
        }
        if let ssl = error as? NIOSSLError, case .handshakeFailed = ssl, text.contains("CERTIFICATE") { return "TLS handshake failed: \(text)" }
        return nil
    }
}

/// A trust setting that cannot be used.
public enum TrustError: Error, CustomStringConvertible, Equatable {
    case unreadable(source: String, path: String, reason: String)
    case empty(source: String, path: String)

    public var description: String {
        switch self {
        case .unreadable(let source, let path, let reason): return "\(source) '\(path)': \(reason); give a PEM CA bundle"
        case .empty(let source, let path): return "\(source) '\(path)' holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        }
    }
}
