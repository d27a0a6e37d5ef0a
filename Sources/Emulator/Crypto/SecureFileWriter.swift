import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes files atomically with an exact POSIX mode (e.g. 0600 for private keys).
enum SecureFileWriter {
    /// Creates `directory` (and parents) with mode 0700 if it does not exist.
    static func ensureDirectory(_ directory: URL) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory) {
            if isDirectory.boolValue { return }
            throw CertificateAuthorityError.writeFailed(path: directory.path, reason: "exists and is not a directory")
        }
        do {
            try FileManager.default.createDirectory(
                at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw CertificateAuthorityError.writeFailed(path: directory.path, reason: "\(error)")
        }
    }

    /// Writes `bytes` to a temporary file created with `mode`, then renames it over `url`.
    static func write(_ bytes: [UInt8], to url: URL, mode: mode_t) throws {
        let path = url.path
        let temporary = path + ".tmp-\(UInt64.random(in: .min ... .max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL, mode)
        guard descriptor >= 0 else {
            throw CertificateAuthorityError.writeFailed(path: path, reason: Self.lastError())
        }
        var failure: String?
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Self.systemWrite(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = Self.lastError()
                    return
                }
                offset += written
            }
        }
        if failure == nil && fchmod(descriptor, mode) != 0 { failure = Self.lastError() }
        if close(descriptor) != 0 && failure == nil { failure = Self.lastError() }
        if failure == nil && rename(temporary, path) != 0 { failure = Self.lastError() }
        if let failure {
            unlink(temporary)
            throw CertificateAuthorityError.writeFailed(path: path, reason: failure)
        }
    }

    private static func systemWrite(_ descriptor: Int32, _ pointer: UnsafeRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
        return Glibc.write(descriptor, pointer, count)
        #elseif canImport(Musl)
        return Musl.write(descriptor, pointer, count)
        #else
        return Darwin.write(descriptor, pointer, count)
        #endif
    }

    private static func lastError() -> String {
        String(cString: strerror(errno))
    }
}
