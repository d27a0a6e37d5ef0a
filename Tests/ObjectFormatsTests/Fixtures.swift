import Foundation
import Testing

/// Keys and certificates generated once per test run with the openssl CLI.
struct Fixtures: Sendable {
    let directory: URL

    struct Identity: Sendable {
        /// Base name of the .key (PEM) and .crt (PEM) files in the fixture directory.
        let name: String
        /// The key as `openssl pkcs8 -topk8 -nocrypt -outform DER` writes it.
        let pkcs8: [UInt8]
        /// The certificate as DER.
        let certificate: [UInt8]
    }

    let rsa: Identity
    let ec: Identity
    /// root → intermediate → leaf, with subject and authority key identifiers.
    let root: Identity
    let intermediate: Identity
    let leaf: Identity
    /// root → intermediate → leaf without key identifiers (name matching only).
    let plainRoot: Identity
    let plainIntermediate: Identity
    let plainLeaf: Identity

    /// The shared fixtures; generation happens on first use.
    static func shared() throws -> Fixtures {
        try cached.get()
    }

    private static let cached: Result<Fixtures, ToolFailure> = {
        do {
            return .success(try Fixtures())
        } catch let error as ToolFailure {
            return .failure(error)
        } catch {
            return .failure(ToolFailure(description: "\(error)"))
        }
    }()

    private init() throws {
        let dir = try Tool.scratchDirectory()
        directory = dir
        try dir.write("ca.ext", Array("basicConstraints=critical,CA:TRUE\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n".utf8))
        try dir.write("leaf.ext", Array("basicConstraints=CA:FALSE\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n".utf8))
        try dir.write("plain-ca.ext", Array("basicConstraints=critical,CA:TRUE\n".utf8))
        try dir.write("plain-leaf.ext", Array("basicConstraints=CA:FALSE\n".utf8))

        let ecKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
        let rsaKey = ["-newkey", "rsa:2048"]

        rsa = try Self.selfSigned("rsa", subject: "/CN=rsa-leaf", key: rsaKey, in: dir)
        ec = try Self.selfSigned("ec", subject: "/CN=ec-leaf", key: ecKey, in: dir)

        root = try Self.selfSigned("root", subject: "/CN=Test Root CA", key: ecKey, in: dir)
        intermediate = try Self.issued(
            "intermediate", subject: "/CN=Test Intermediate CA", key: ecKey, issuer: "root", extensions: "ca.ext", in: dir)
        // The leaf reuses the RSA key (RSA key generation is the slowest step); its certificate is its own.
        try dir.write("leaf.key", try dir.bytes("rsa.key"))
        leaf = try Self.issued(
            "leaf", subject: "/CN=leaf.example.com", key: ["-key", "leaf.key"], issuer: "intermediate",
            extensions: "leaf.ext", in: dir)

        let noKeyIDs = ["-addext", "subjectKeyIdentifier=none", "-addext", "authorityKeyIdentifier=none"]
        plainRoot = try Self.selfSigned("plain-root", subject: "/CN=Plain Root", key: ecKey + noKeyIDs, in: dir)
        plainIntermediate = try Self.issued(
            "plain-intermediate", subject: "/CN=Plain Intermediate", key: ecKey, issuer: "plain-root",
            extensions: "plain-ca.ext", in: dir)
        plainLeaf = try Self.issued(
            "plain-leaf", subject: "/CN=plain.example.com", key: ecKey, issuer: "plain-intermediate",
            extensions: "plain-leaf.ext", in: dir)
    }

    private static func selfSigned(_ name: String, subject: String, key: [String], in dir: URL) throws -> Identity {
        try Tool.openssl(
            ["req", "-x509"] + key + ["-nodes", "-keyout", "\(name).key", "-out", "\(name).crt", "-subj", subject, "-days", "30"],
            in: dir)
        return try identity(name, in: dir)
    }

    private static func issued(
        _ name: String, subject: String, key: [String], issuer: String, extensions: String, in dir: URL
    ) throws -> Identity {
        let keyArguments = key.first == "-key" ? key : key + ["-nodes", "-keyout", "\(name).key"]
        try Tool.openssl(["req", "-new"] + keyArguments + ["-out", "\(name).csr", "-subj", subject], in: dir)
        try Tool.openssl(
            ["x509", "-req", "-in", "\(name).csr", "-CA", "\(issuer).crt", "-CAkey", "\(issuer).key",
             "-set_serial", String(Int.random(in: 1000...999_999)), "-days", "30", "-extfile", extensions,
             "-out", "\(name).crt"],
            in: dir)
        return try identity(name, in: dir)
    }

    private static func identity(_ name: String, in dir: URL) throws -> Identity {
        let pkcs8 = try Tool.openssl(["pkcs8", "-topk8", "-nocrypt", "-outform", "DER", "-in", "\(name).key"], in: dir)
        let certificate = try Tool.openssl(["x509", "-in", "\(name).crt", "-outform", "DER"], in: dir)
        return Identity(name: name, pkcs8: pkcs8, certificate: certificate)
    }

    /// Runs `openssl pkcs12 -export` with `arguments` and returns the PFX bytes.
    func exportPFX(_ arguments: [String]) throws -> [UInt8] {
        let out = "\(UUID().uuidString).p12"
        try Tool.openssl(["pkcs12", "-export"] + arguments + ["-out", out], in: directory)
        return try directory.bytes(out)
    }

    /// Writes the PEM certificates of `identities`, concatenated in the given order, to a new file and returns its name.
    func certificateFile(_ identities: [Identity]) throws -> String {
        let name = "\(UUID().uuidString).pem"
        var text = ""
        for identity in identities { text += try directory.text("\(identity.name).crt") }
        try directory.write(name, Array(text.utf8))
        return name
    }
}
