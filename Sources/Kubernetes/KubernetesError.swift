/// A failed Kubernetes API call; API failures carry the server's Status reason and message.
public enum KubernetesError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The API server answered with a Status (e.g. 404 NotFound, 409 Conflict/AlreadyExists, 410 Expired, 422 Invalid).
    case api(code: Int, reason: String, message: String, retryAfterSeconds: Int?)
    /// The server could not be reached or the connection broke.
    case transport(String)
    /// The reply was not what the API promises.
    case invalidResponse(String)
    /// The kubeconfig or in-cluster environment cannot be used.
    case configuration(String)

    public var description: String {
        switch self {
        case .api(let code, let reason, let message, _): return "Kubernetes API \(code) \(reason): \(message)"
        case .transport(let message): return "cannot reach the Kubernetes API server: \(message)"
        case .invalidResponse(let message): return "unexpected reply from the Kubernetes API server: \(message)"
        case .configuration(let message): return "Kubernetes client configuration: \(message)"
        }
    }

    public var code: Int? { if case .api(let code, _, _, _) = self { return code }; return nil }
    public var reason: String? { if case .api(_, let reason, _, _) = self { return reason }; return nil }
    public var isNotFound: Bool { code == 404 }
    public var isConflict: Bool { code == 409 && reason == "Conflict" }
    public var isAlreadyExists: Bool { code == 409 && reason == "AlreadyExists" }
    /// The resourceVersion asked for is too old (watch or continue token): list again.
    public var isGone: Bool { code == 410 }
    /// Worth trying again: the server was unreachable, overloaded (429) or failing (5xx).
    public var isTransient: Bool {
        if case .transport = self { return true }
        return code.map { $0 == 429 || $0 >= 500 } ?? false
    }
}
