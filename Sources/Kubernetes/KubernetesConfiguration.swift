import Foundation
import Yams

/// Where the API server is and how to authenticate: from a kubeconfig or from inside a pod.
public struct KubernetesConfiguration: Sendable {
    public var server: URL
    /// PEM of the CA that signs the server certificate; nil uses the system roots.
    public var certificateAuthorityPEM: String?
    public var insecureSkipTLSVerify: Bool
    /// PEM certificate chain and key for client-certificate authentication.
    public var clientCertificatePEM: String?
    public var clientKeyPEM: String?
    public var token: TokenSource?
    /// The default namespace (context namespace, or the pod's namespace in-cluster).
    public var namespace: String
    public var userAgent: String
    public var requestTimeout: Duration

    public init(server: URL, certificateAuthorityPEM: String? = nil, insecureSkipTLSVerify: Bool = false, clientCertificatePEM: String? = nil,
                clientKeyPEM: String? = nil, token: TokenSource? = nil, namespace: String = "default", userAgent: String = "akvs",
                requestTimeout: Duration = .seconds(30)) {
        self.server = server; self.certificateAuthorityPEM = certificateAuthorityPEM; self.insecureSkipTLSVerify = insecureSkipTLSVerify
        self.clientCertificatePEM = clientCertificatePEM; self.clientKeyPEM = clientKeyPEM; self.token = token
        self.namespace = namespace; self.userAgent = userAgent; self.requestTimeout = requestTimeout
    }

    /// `$KUBECONFIG` (first file), else in-cluster when running in a pod, else `~/.kube/config`.
    public static func load(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> KubernetesConfiguration {
        if let path = environment["KUBECONFIG"]?.split(separator: ":").first, !path.isEmpty {
            return try kubeconfig(path: String(path))
        }
        if environment["KUBERNETES_SERVICE_HOST"] != nil {
            return try inCluster(environment: environment)
        }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return try kubeconfig(path: "\(home)/.kube/config")
    }

    /// In-cluster: `KUBERNETES_SERVICE_HOST`/`_PORT`, and the service-account token (re-read as the kubelet rotates it), CA and namespace.
    public static func inCluster(environment: [String: String] = ProcessInfo.processInfo.environment,
                                 serviceAccountDirectory: String = "/var/run/secrets/kubernetes.io/serviceaccount") throws -> KubernetesConfiguration {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], let port = environment["KUBERNETES_SERVICE_PORT"], !host.isEmpty, !port.isEmpty else {
            throw KubernetesError.configuration("KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set in-cluster; outside a pod set KUBECONFIG")
        }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        guard let server = URL(string: "https://\(hostPart):\(port)") else {
            throw KubernetesError.configuration("KUBERNETES_SERVICE_HOST '\(host)' and port '\(port)' do not form a URL")
        }
        let tokenPath = "\(serviceAccountDirectory)/token"
        guard FileManager.default.isReadableFile(atPath: tokenPath) else {
            throw KubernetesError.configuration("service-account token \(tokenPath) is missing; mount the service account token (automountServiceAccountToken) or set KUBECONFIG")
        }
        let ca = try? String(contentsOfFile: "\(serviceAccountDirectory)/ca.crt", encoding: .utf8)
        let namespace = (try? String(contentsOfFile: "\(serviceAccountDirectory)/namespace", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return KubernetesConfiguration(server: server, certificateAuthorityPEM: ca, token: .file(path: tokenPath),
                                       namespace: namespace.flatMap { $0.isEmpty ? nil : $0 } ?? "default")
    }

    /// A kubeconfig file: the current context (or `context`), its cluster and user.
    public static func kubeconfig(path: String, context contextName: String? = nil) throws -> KubernetesConfiguration {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw KubernetesError.configuration("cannot read kubeconfig \(path): \(error.localizedDescription)")
        }
        return try kubeconfig(yaml: text, directory: (path as NSString).deletingLastPathComponent, source: path, context: contextName)
    }

    public static func kubeconfig(yaml text: String, directory: String, source: String, context contextName: String? = nil) throws -> KubernetesConfiguration {
        let file: KubeconfigFile
        do { file = try YAMLDecoder().decode(KubeconfigFile.self, from: text) } catch {
            throw KubernetesError.configuration("\(source) is not a valid kubeconfig: \(error)")
        }
        guard let name = contextName ?? file.currentContext, !name.isEmpty else {
            throw KubernetesError.configuration("\(source): current-context is not set; set it or pass a context name")
        }
        guard let context = file.contexts?.first(where: { $0.name == name })?.context else {
            throw KubernetesError.configuration("\(source): context '\(name)' is not defined under contexts")
        }
        guard let cluster = file.clusters?.first(where: { $0.name == context.cluster })?.cluster else {
            throw KubernetesError.configuration("\(source): cluster '\(context.cluster)' (context '\(name)') is not defined under clusters")
        }
        guard let server = URL(string: cluster.server), server.scheme == "https" || server.scheme == "http" else {
            throw KubernetesError.configuration("\(source): clusters[\(context.cluster)].cluster.server '\(cluster.server)' must be an http(s) URL")
        }
        let user = context.user.flatMap { u in file.users?.first(where: { $0.name == u })?.user }
        if context.user != nil, user == nil {
            throw KubernetesError.configuration("\(source): user '\(context.user!)' (context '\(name)') is not defined under users")
        }
        if user?.exec != nil || user?.authProvider != nil {
            throw KubernetesError.configuration("\(source): user '\(context.user!)' uses an exec or auth-provider plugin, which akvs does not run; use a token, tokenFile or client certificate")
        }
        func resolve(_ path: String) -> String { path.hasPrefix("/") ? path : "\(directory)/\(path)" }
        func material(data: String?, file: String?, field: String) throws -> String? {
            if let data {
                guard let decoded = Data(base64Encoded: data), let text = String(data: decoded, encoding: .utf8) else {
                    throw KubernetesError.configuration("\(source): \(field)-data must be base64 of a PEM file")
                }
                return text
            }
            if let file {
                do { return try String(contentsOfFile: resolve(file), encoding: .utf8) } catch {
                    throw KubernetesError.configuration("\(source): cannot read \(field) \(resolve(file)): \(error.localizedDescription)")
                }
            }
            return nil
        }
        var token: TokenSource?
        if let t = user?.token, !t.isEmpty { token = .fixed(t) } else if let f = user?.tokenFile { token = .file(path: resolve(f)) }
        let certificate = try material(data: user?.clientCertificateData, file: user?.clientCertificate, field: "client-certificate")
        let key = try material(data: user?.clientKeyData, file: user?.clientKey, field: "client-key")
        if (certificate == nil) != (key == nil) {
            throw KubernetesError.configuration("\(source): user '\(context.user ?? "")' needs both client-certificate and client-key")
        }
        return KubernetesConfiguration(
            server: server,
            certificateAuthorityPEM: try material(data: cluster.certificateAuthorityData, file: cluster.certificateAuthority, field: "certificate-authority"),
            insecureSkipTLSVerify: cluster.insecureSkipTLSVerify ?? false,
            clientCertificatePEM: certificate, clientKeyPEM: key, token: token, namespace: context.namespace ?? "default")
    }
}

/// The kubeconfig fields akvs understands.
struct KubeconfigFile: Decodable {
    var currentContext: String?
    var clusters: [Named<Cluster>]?
    var users: [NamedUser]?
    var contexts: [NamedContext]?

    enum CodingKeys: String, CodingKey { case currentContext = "current-context", clusters, users, contexts }

    struct Named<T: Decodable>: Decodable { var name: String; var cluster: T }
    struct NamedUser: Decodable { var name: String; var user: User? }
    struct NamedContext: Decodable { var name: String; var context: Context }

    struct Cluster: Decodable {
        var server: String
        var certificateAuthority: String?
        var certificateAuthorityData: String?
        var insecureSkipTLSVerify: Bool?
        enum CodingKeys: String, CodingKey {
            case server, certificateAuthority = "certificate-authority", certificateAuthorityData = "certificate-authority-data"
            case insecureSkipTLSVerify = "insecure-skip-tls-verify"
        }
    }
    struct User: Decodable {
        var token: String?
        var tokenFile: String?
        var clientCertificate: String?
        var clientCertificateData: String?
        var clientKey: String?
        var clientKeyData: String?
        var exec: Present?
        var authProvider: Present?
        enum CodingKeys: String, CodingKey {
            case token, tokenFile, clientCertificate = "client-certificate", clientCertificateData = "client-certificate-data"
            case clientKey = "client-key", clientKeyData = "client-key-data", exec, authProvider = "auth-provider"
        }
    }
    /// Any value: only its presence matters.
    struct Present: Decodable { init(from decoder: any Decoder) throws {} }
    struct Context: Decodable { var cluster: String; var user: String?; var namespace: String? }
}

/// A bearer token: fixed, or a file re-read when it may have rotated (at most once a minute, and after a 401).
public struct TokenSource: Sendable {
    let reader: TokenReader
    public static func fixed(_ token: String) -> TokenSource { TokenSource(reader: TokenReader(fixed: token)) }
    public static func file(path: String, maxAge: Duration = .seconds(60)) -> TokenSource { TokenSource(reader: TokenReader(path: path, maxAge: maxAge)) }

    public func token(forceReload: Bool = false) async throws -> String { try await reader.token(forceReload: forceReload) }
    public var isFile: Bool { reader.path != nil }
}

actor TokenReader {
    nonisolated let path: String?
    let maxAge: Duration
    var cached: String?
    var readAt: ContinuousClock.Instant?

    init(fixed: String) { path = nil; maxAge = .zero; cached = fixed }
    init(path: String, maxAge: Duration) { self.path = path; self.maxAge = maxAge }

    func token(forceReload: Bool) throws -> String {
        guard let path else { return cached ?? "" }
        let now = ContinuousClock.now
        if !forceReload, let cached, let readAt, now - readAt < maxAge { return cached }
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            if let cached { return cached }
            throw KubernetesError.configuration("cannot read the token file \(path): \(error.localizedDescription)")
        }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        cached = token; readAt = now
        return token
    }
}
