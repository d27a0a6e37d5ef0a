import Crypto
import Foundation
import SwiftASN1
import Testing
import X509
import _CryptoExtras

import Emulator

@Suite("Crypto: keys, CA, certificates, PKCS#12")
struct CryptoTests {
    // Shared keys: RSA generation is the slow part, so each size is generated once per run.
    static let rsa2048 = Result { try KeyMaterial.generate(.rsa(bits: 2048)) }
    static let rsa4096 = Result { try KeyMaterial.generate(.rsa(bits: 4096)) }

    static let openSSLPath = "/usr/bin/openssl"
    static let hasOpenSSL = FileManager.default.isExecutableFile(atPath: openSSLPath)
    static let hasPythonCryptography: Bool = {
        guard let result = try? run(
            "/usr/bin/env",
            ["python3", "-c", "from cryptography.hazmat.primitives.serialization import pkcs12"])
        else { return false }
        return result.status == 0
    }()

    // MARK: - KeyMaterial

    @Test("JWK sizes and PKCS#8 round trip", arguments: [
        KeySpec.rsa(bits: 2048), .rsa(bits: 4096), .ec(curve: .p256), .ec(curve: .p384), .ec(curve: .p521),
    ])
    func keyMaterial(spec: KeySpec) throws {
        let key: KeyMaterial
        switch spec {
        case .rsa(2048): key = try Self.rsa2048.get()
        case .rsa(4096): key = try Self.rsa4096.get()
        default: key = try KeyMaterial.generate(spec)
        }
        #expect(key.spec == spec)
        let jwk = key.publicJWK
        #expect(key.pkcs8PEM.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
        #expect(key.pkcs8PEM.hasSuffix("-----END PRIVATE KEY-----\n"))
        for (name, value) in jwk where name != "kty" && name != "crv" {
            #expect(!value.contains("=") && !value.contains("+") && !value.contains("/"), "\(name) not base64url")
        }

        switch spec {
        case .rsa(let bits):
            #expect(jwk["kty"] == "RSA")
            #expect(jwk["e"] == "AQAB")
            let n = try #require(Self.base64URLDecode(jwk["n"]))
            #expect(n.count == bits / 8)
            #expect(n.first != 0)
            let parsed = try _RSA.Signing.PrivateKey(pemRepresentation: key.pkcs8PEM)
            #expect(parsed.keySizeInBits == bits)
            #expect(try parsed.publicKey.getKeyPrimitives().modulus.drop(while: { $0 == 0 }) == Data(n))
        case .ec(let curve):
            #expect(jwk["kty"] == "EC")
            #expect(jwk["crv"] == curve.rawValue)
            let x = try #require(Self.base64URLDecode(jwk["x"]))
            let y = try #require(Self.base64URLDecode(jwk["y"]))
            let expected = ["P-256": 32, "P-384": 48, "P-521": 66][curve.rawValue]
            #expect(x.count == expected)
            #expect(y.count == expected)
            let x963: Data
            switch curve {
            case .p256: x963 = try P256.Signing.PrivateKey(pemRepresentation: key.pkcs8PEM).publicKey.x963Representation
            case .p384: x963 = try P384.Signing.PrivateKey(pemRepresentation: key.pkcs8PEM).publicKey.x963Representation
            case .p521: x963 = try P521.Signing.PrivateKey(pemRepresentation: key.pkcs8PEM).publicKey.x963Representation
            }
            #expect(Array(x963) == [0x04] + x + y)
        }

        let reloaded = try KeyMaterial(pkcs8PEM: key.pkcs8PEM)
        #expect(reloaded.spec == spec)
        #expect(reloaded.publicJWK == jwk)
        #expect(reloaded.pkcs8DER == key.pkcs8DER)
    }

    @Test("unsupported RSA sizes are rejected")
    func unsupportedRSASize() {
        #expect(throws: KeyMaterialError.unsupportedRSAKeySize(1024)) {
            try KeyMaterial.generate(.rsa(bits: 1024))
        }
        #expect(throws: KeyMaterialError.self) { try KeyMaterial(pkcs8DER: [0x30, 0x03, 0x02, 0x01, 0x00]) }
    }

    // MARK: - Certificate authority

    @Test("loadOrCreate persists and reuses the CA; key files are 0600")
    func caPersistence() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try CertificateAuthority.loadOrCreate(directory: directory)
        let second = try CertificateAuthority.loadOrCreate(directory: directory)
        #expect(first.rootDER == second.rootDER)
        #expect(first.intermediateDER == second.intermediateDER)
        #expect(first.rootPEM.hasPrefix("-----BEGIN CERTIFICATE-----\n"))
        #expect(try Certificate(pemEncoded: first.rootPEM) == first.rootCertificate)

        for file in ["root-ca-key.pem", "intermediate-ca-key.pem"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent(file).path)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600, "\(file)")
        }

        let root = first.rootCertificate
        let intermediate = first.intermediateCertificate
        #expect(root.issuer == root.subject)
        #expect(try root.extensions.basicConstraints == .isCertificateAuthority(maxPathLength: nil))
        #expect(try root.extensions.keyUsage == KeyUsage(keyCertSign: true, cRLSign: true))
        #expect(try root.extensions.subjectKeyIdentifier != nil)
        #expect(try intermediate.extensions.basicConstraints == .isCertificateAuthority(maxPathLength: 0))
        #expect(
            try intermediate.extensions.authorityKeyIdentifier?.keyIdentifier
                == root.extensions.subjectKeyIdentifier?.keyIdentifier)
        #expect(root.publicKey.isValidSignature(intermediate.signature, for: intermediate))
        let years = root.notValidAfter.timeIntervalSince(root.notValidBefore) / (365.25 * 86_400)
        #expect((9.9...10.1).contains(years))
        let intermediateYears = intermediate.notValidAfter.timeIntervalSince(intermediate.notValidBefore) / (365.25 * 86_400)
        #expect((4.9...5.1).contains(intermediateYears))

        // Losing the intermediate key regenerates only the intermediate, under the same root.
        try FileManager.default.removeItem(at: directory.appendingPathComponent("intermediate-ca-key.pem"))
        let third = try CertificateAuthority.loadOrCreate(directory: directory)
        #expect(third.rootDER == first.rootDER)
        #expect(third.intermediateDER != first.intermediateDER)
    }

    @Test("CA-issued leaf verifies to the root, chain is leaf, intermediate, root")
    func issuedLeafVerifies() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let ca = try CertificateAuthority.loadOrCreate(directory: directory)
        let request = CertificateRequest(subject: "CN=web.demo.local, O=Demo Org, C=US", dnsNames: ["web.demo.local"])
        let issued = try ca.issue(request, key: try Self.rsa2048.get())

        #expect(issued.chainDER.count == 3)
        #expect(issued.chainDER[1] == ca.intermediateDER)
        #expect(issued.chainDER[2] == ca.rootDER)
        let leaf = try Certificate(derEncoded: issued.leafDER)
        #expect(leaf.issuer == ca.intermediateCertificate.subject)
        #expect(leaf.subject.description == "CN=web.demo.local,O=Demo Org,C=US")
        #expect(leaf.publicKey == issued.key.privateKey.publicKey)
        #expect(ca.intermediateCertificate.publicKey.isValidSignature(leaf.signature, for: leaf))
        #expect(try leaf.extensions.extendedKeyUsage == ExtendedKeyUsage([.serverAuth, .clientAuth]))
        #expect(try leaf.extensions.keyUsage == KeyUsage(digitalSignature: true, keyEncipherment: true))
        #expect(try leaf.extensions.subjectAlternativeNames == SubjectAlternativeNames([.dnsName("web.demo.local")]))

        var verifier = Verifier(rootCertificates: CertificateStore([ca.rootCertificate])) { RFC5280Policy() }
        let result = await verifier.validate(leaf: leaf, intermediates: CertificateStore([ca.intermediateCertificate]))
        guard case .validCertificate(let chain) = result else {
            Issue.record("chain did not validate: \(result)")
            return
        }
        #expect(Array(chain) == [leaf, ca.intermediateCertificate, ca.rootCertificate])

        // Validity: 12 months from notBefore (now - 5 minutes), second precision.
        #expect(abs(issued.notBefore.timeIntervalSinceNow + 300) < 5)
        let days = issued.notAfter.timeIntervalSince(issued.notBefore) / 86_400
        #expect((365...366).contains(days))
        #expect(issued.serialNumberHex == leaf.serialNumber.bytes.map { String(format: "%02X", $0) }.joined())
        let thumbprint = try #require(Self.base64URLDecode(issued.x5t))
        #expect(thumbprint == Array(Insecure.SHA1.hash(data: issued.leafDER)))
        #expect(!issued.x5t.contains("="))
    }

    @Test("server certificate is signed by the root and carries the SANs")
    func serverCertificate() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let ca = try CertificateAuthority.loadOrCreate(directory: directory)
        let server = try ca.issueServerCertificate(
            dnsNames: ["localhost", "*.vault.localhost"], ipAddresses: ["127.0.0.1", "::1"])
        let certificate = try Certificate(pemEncoded: server.certificatePEM)
        #expect(certificate.issuer == ca.rootCertificate.subject)
        #expect(ca.rootCertificate.publicKey.isValidSignature(certificate.signature, for: certificate))
        let sans = try #require(try certificate.extensions.subjectAlternativeNames)
        #expect(Array(sans) == [
            .dnsName("localhost"), .dnsName("*.vault.localhost"),
            .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
            .ipAddress(ASN1OctetString(contentBytes: ArraySlice([UInt8](repeating: 0, count: 15) + [1]))),
        ])
        #expect(try certificate.extensions.extendedKeyUsage == ExtendedKeyUsage([.serverAuth]))
        #expect(try certificate.extensions.keyUsage == KeyUsage(digitalSignature: true))
        let key = try P256.Signing.PrivateKey(pemRepresentation: server.privateKeyPEM)
        #expect(Certificate.PublicKey(key.publicKey) == certificate.publicKey)

        for (host, ip) in [("api.vault.localhost", nil), (nil, "127.0.0.1"), (nil, "::1")] as [(String?, String?)] {
            var verifier = Verifier(rootCertificates: CertificateStore([ca.rootCertificate])) {
                RFC5280Policy()
                ServerIdentityPolicy(serverHostname: host, serverIP: ip)
            }
            let result = await verifier.validate(leaf: certificate, intermediates: CertificateStore())
            guard case .validCertificate = result else {
                Issue.record("server identity \(host ?? ip ?? "") rejected: \(result)")
                continue
            }
        }
        #expect(throws: CertificateAuthorityError.invalidIPAddress("300.1.1.1")) {
            try ca.issueServerCertificate(dnsNames: ["localhost"], ipAddresses: ["300.1.1.1"])
        }
    }

    @Test("self-signed leaf: issuer == subject, own signature, chain of one")
    func selfSigned() throws {
        let key = try KeyMaterial.generate(.ec(curve: .p384))
        let start = Date(timeIntervalSince1970: 1_700_000_000)
        let request = CertificateRequest(
            subject: "CN=self.test, OU=Unit, O=\"Org, Inc\", L=Town, ST=State, C=de", dnsNames: [],
            validityMonths: 120, ekus: [], notBefore: start)
        let issued = try IssuedCertificate.selfSigned(request, key: key)
        #expect(issued.chainDER.count == 1)
        let leaf = issued.leafCertificate
        #expect(leaf.issuer == leaf.subject)
        #expect(leaf.subject.description == "CN=self.test,OU=Unit,O=Org\\, Inc,L=Town,ST=State,C=DE")
        #expect(leaf.publicKey.isValidSignature(leaf.signature, for: leaf))
        #expect(leaf.signatureAlgorithm == .ecdsaWithSHA384)
        #expect(issued.notBefore == start)
        #expect(issued.notAfter == Date(timeIntervalSince1970: 2_015_619_200))  // 2033-11-14T22:13:20Z
        #expect(try leaf.extensions.extendedKeyUsage == nil)
        #expect(try leaf.extensions.subjectAlternativeNames == nil)

        let reloaded = try IssuedCertificate(key: key, chainDER: issued.chainDER)
        #expect(reloaded.x5t == issued.x5t)
        #expect(throws: IssuedCertificateError.keyDoesNotMatchLeaf) {
            try IssuedCertificate(key: try KeyMaterial.generate(.ec(curve: .p384)), chainDER: issued.chainDER)
        }
    }

    @Test("bad requests name the offending field")
    func badRequests() throws {
        let key = try KeyMaterial.generate(.ec(curve: .p256))
        func failure(_ request: CertificateRequest) -> CertificateRequestError? {
            do {
                _ = try IssuedCertificate.selfSigned(request, key: key)
                return nil
            } catch {
                return error as? CertificateRequestError
            }
        }
        guard case .invalidSubject(let field, _) = failure(CertificateRequest(subject: "CN=x, FOO=bar")) else {
            Issue.record("unknown attribute accepted")
            return
        }
        #expect(field == "FOO")
        #expect(failure(CertificateRequest(subject: "CN=x, C=USA"))?.description.contains("'C'") == true)
        #expect(failure(CertificateRequest(subject: "CN x"))?.description.contains("CN x") == true)
        #expect(failure(CertificateRequest(subject: "")) != nil)
        #expect(failure(CertificateRequest(subject: "CN=x", validityMonths: 0)) == .invalidValidityMonths(0))
        #expect(failure(CertificateRequest(subject: "CN=x", validityMonths: 121)) == .invalidValidityMonths(121))
        #expect(failure(CertificateRequest(subject: "CN=x", ekus: ["serverAuth"])) == .invalidExtendedKeyUsage("serverAuth"))
    }

    // MARK: - PEM and PKCS#12

    @Test("pemBundle: key first, then leaf, intermediate, root")
    func pemBundleOrder() throws {
        let (issued, _) = try Self.issuedChain()
        let blocks = Self.pemBlocks(issued.pemBundle())
        #expect(blocks.map(\.label) == ["PRIVATE KEY", "CERTIFICATE", "CERTIFICATE", "CERTIFICATE"])
        #expect(blocks[0].der == issued.key.pkcs8DER)
        #expect(blocks.dropFirst().map(\.der) == issued.chainDER)
    }

    @Test("PKCS#12 opens with the openssl CLI", .enabled(if: CryptoTests.hasOpenSSL), arguments: ["", "pw"])
    func pkcs12OpenSSL(password: String) throws {
        let (issued, directory) = try Self.issuedChain()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("cert.pfx")
        try Data(issued.pkcs12(password: password)).write(to: file)

        let opened = try Self.run(Self.openSSLPath, ["pkcs12", "-in", file.path, "-passin", "pass:\(password)", "-nodes"])
        #expect(opened.status == 0, "openssl failed: \(opened.stderr)")
        let blocks = Self.pemBlocks(opened.stdout)
        let keys = blocks.filter { $0.label == "PRIVATE KEY" }
        #expect(keys.count == 1)
        let key = try KeyMaterial(pkcs8DER: try #require(keys.first?.der))
        #expect(key.publicJWK == issued.key.publicJWK)
        let certificates = blocks.filter { $0.label == "CERTIFICATE" }.map(\.der)
        #expect(certificates.first == issued.leafDER)
        #expect(Set(certificates) == Set(issued.chainDER))
        #expect(certificates.count == 3)
        #expect(opened.stdout.contains("localKeyID"))

        let info = try Self.run(Self.openSSLPath, ["pkcs12", "-in", file.path, "-passin", "pass:\(password)", "-info", "-noout"])
        #expect(info.stderr.contains("MAC: sha256"), "\(info.stderr)")
        #expect(info.stderr.contains("PBES2, PBKDF2, AES-256-CBC"), "\(info.stderr)")

        let wrong = try Self.run(Self.openSSLPath, ["pkcs12", "-in", file.path, "-passin", "pass:wrong", "-nodes"])
        #expect(wrong.status != 0)
    }

    @Test("PKCS#12 opens with Python cryptography", .enabled(if: CryptoTests.hasPythonCryptography), arguments: ["", "pw"])
    func pkcs12Python(password: String) throws {
        let (issued, directory) = try Self.issuedChain()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("cert.pfx")
        try Data(issued.pkcs12(password: password)).write(to: file)
        let script = """
            import hashlib, sys
            from cryptography.hazmat.primitives.serialization import pkcs12, Encoding, PublicFormat
            data = open(sys.argv[1], "rb").read()
            password = sys.argv[2].encode() if sys.argv[3] == "bytes" else None
            key, cert, extra = pkcs12.load_key_and_certificates(data, password)
            spki = lambda k: k.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
            print("match" if spki(key.public_key()) == spki(cert.public_key()) else "mismatch")
            for c in [cert] + list(extra):
                print(hashlib.sha256(c.public_bytes(Encoding.DER)).hexdigest())
            """
        let modes = password.isEmpty ? ["bytes", "none"] : ["bytes"]
        for mode in modes {
            let result = try Self.run("/usr/bin/env", ["python3", "-c", script, file.path, password, mode])
            #expect(result.status == 0, "python (\(mode)) failed: \(result.stderr)")
            let lines = result.stdout.split(separator: "\n").map(String.init)
            #expect(lines.first == "match")
            let digests = issued.chainDER.map { SHA256.hash(data: $0).map { String(format: "%02x", $0) }.joined() }
            #expect(Array(lines.dropFirst()) == digests, "certificate SHA-256 digests differ (leaf first)")
        }
    }

    @Test("PKCS#12 writer rejects missing certificates and non-DER keys")
    func pkcs12Errors() throws {
        #expect(throws: PKCS12Error.noCertificates) {
            try PKCS12Writer.build(privateKeyPKCS8: try Self.rsa2048.get().pkcs8DER, certificates: [])
        }
        #expect(throws: PKCS12Error.self) {
            try PKCS12Writer.build(privateKeyPKCS8: [1, 2, 3], certificates: [[0x30, 0x00]])
        }
    }

    // MARK: - Helpers

    /// A CA-issued RSA certificate plus the temp directory holding its CA.
    static func issuedChain() throws -> (IssuedCertificate, URL) {
        let directory = try temporaryDirectory()
        let ca = try CertificateAuthority.loadOrCreate(directory: directory.appendingPathComponent("ca"))
        let request = CertificateRequest(subject: "CN=pfx.demo.local", dnsNames: ["pfx.demo.local"])
        return (try ca.issue(request, key: try rsa2048.get()), directory)
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("akvs-crypto-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func base64URLDecode(_ text: String?) -> [UInt8]? {
        guard var text = text?.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        else { return nil }
        while text.count % 4 != 0 { text += "=" }
        return Data(base64Encoded: text).map { Array($0) }
    }

    static func pemBlocks(_ text: String) -> [(label: String, der: [UInt8])] {
        var blocks: [(String, [UInt8])] = []
        var label: String?
        var body = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("-----BEGIN ") {
                label = String(line.dropFirst(11).dropLast(5))
                body = ""
            } else if line.hasPrefix("-----END "), let current = label {
                blocks.append((current, Array(Data(base64Encoded: body) ?? Data())))
                label = nil
            } else if label != nil {
                body += line
            }
        }
        return blocks
    }

    struct ProcessResult {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> ProcessResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let errorFile = FileManager.default.temporaryDirectory.appendingPathComponent("akvs-stderr-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errorFile) }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: errorFile)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let stdout = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let stderr = (try? Data(contentsOf: errorFile)) ?? Data()
        return ProcessResult(
            status: process.terminationStatus,
            stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }
}
