import Kubernetes

/// Why a doctor run could not look at something.
public enum DoctorError: Error, CustomStringConvertible {
    /// A read from the API server failed (not a 404, which is a finding).
    case read(what: String, any Error)

    public var description: String {
        switch self {
        case .read(let what, let error):
            if let api = error as? KubernetesError, api.code == 403 {
                return "cannot read \(what): forbidden; the doctor needs read access (e.g. the `view` ClusterRole plus secrets metadata): \(api)"
            }
            return "cannot read \(what): \(error)"
        }
    }
}
