/// Why a migration stage could not run (findings that block a workload are report rows, not errors).
public enum MigrationError: Error, CustomStringConvertible {
    /// A flag or file is wrong (exit code 2).
    case usage(String)
    /// The cluster could not be read or written.
    case cluster(String)
    /// The backup bundle could not be written or read.
    case backup(String)

    public var description: String {
        switch self {
        case .usage(let message): return message
        case .cluster(let message): return "Kubernetes: \(message)"
        case .backup(let message): return "backup bundle: \(message)"
        }
    }
}
