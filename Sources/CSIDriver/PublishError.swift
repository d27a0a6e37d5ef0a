import ProviderClient

/// Why a NodePublishVolume or NodeUnpublishVolume failed. Messages name the field or object and the fix,
/// never a secret value; `errorType` is the upstream `error_type` metric label.
public enum PublishError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A request field is missing or wrong (gRPC InvalidArgument).
    case invalidRequest(String)
    case missingAttribute(String)
    case spcNotFound(namespace: String, name: String, reason: String)
    case spcInvalid(namespace: String, name: String, reason: String)
    /// The provider could not be found or called, or it answered with an error.
    case provider(ProviderCallError)
    case invalidFile(path: String, reason: String)
    case mount(String)
    case write(String)
    case podStatus(String)

    public var description: String {
        switch self {
        case .invalidRequest(let m): return m
        case .missingAttribute(let key):
            return "volume attribute \(key) is missing; kubelet sets it when the CSIDriver object has podInfoOnMount: true"
        case .spcNotFound(let ns, let n, let r):
            return "failed to get secretproviderclass \(ns)/\(n), error: \(r); create it in namespace \(ns) (a pod can only use a SecretProviderClass of its own namespace)"
        case .spcInvalid(let ns, let n, let r):
            return "secretproviderclass \(ns)/\(n): \(r)"
        case .provider(let e): return e.description
        case .invalidFile(let path, let reason):
            return "provider returned an unsafe file path '\(path)': \(reason); nothing was written"
        case .mount(let m): return m
        case .write(let m): return "failed to write files: \(m)"
        case .podStatus(let m): return "failed to record SecretProviderClassPodStatus: \(m)"
        }
    }

    /// The upstream `error_type` label value.
    public var errorType: String {
        switch self {
        case .invalidRequest, .missingAttribute, .spcInvalid: return "FailedToMount"
        case .provider(.invalidName), .provider(.notFound): return "FailedToLookupProviderGRPCClient"
        case .spcNotFound: return "SecretProviderClassNotFound"
        case .provider(.call): return "GRPCProviderError"
        case .provider(.errorCode(_, let code)): return code
        case .invalidFile, .write: return "FileWriteError"
        case .mount: return "FailedToEnsureMountPoint"
        case .podStatus: return "FailedToMount"
        }
    }
}
