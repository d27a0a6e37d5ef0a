/// Why a role cannot start serving: each case names the flag or address and the fix.
public enum ServingError: Error, CustomStringConvertible, Equatable {
    /// A `unix://` endpoint flag that is not a socket URL.
    case endpoint(flag: String, value: String, example: String)
    /// A listen-address flag that is not `host:port` or `:port`.
    case address(flag: String, value: String)
    /// The socket path cannot be prepared or served.
    case socket(path: String, reason: String)
    /// An HTTP listener could not be opened.
    case listen(name: String, address: String, flag: String, reason: String)

    public var description: String {
        switch self {
        case .endpoint(let flag, let value, let example):
            return "\(flag) '\(value)' must be a unix socket URL such as \(example)"
        case .address(let flag, let value):
            return "\(flag) '\(value)' must be host:port or :port, e.g. :8095 or 127.0.0.1:8095"
        case .socket(let path, let reason):
            return "socket \(path): \(reason)"
        case .listen(let name, let address, let flag, let reason):
            return "cannot listen on \(address) for \(name) (\(flag)): \(reason); free the port or pick another address with \(flag)"
        }
    }
}
