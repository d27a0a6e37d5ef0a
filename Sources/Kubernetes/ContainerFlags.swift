import StructuredJSON

/// The command-line flags of a container in a pod spec (`--name=value`, `--name value`, or a bare `--name`),
/// for tools that read an installed role's settings from its DaemonSet or Deployment.
public struct ContainerFlags: Sendable {
    public private(set) var values: [String: String] = [:]

    /// Reads `command` and `args` of a container object.
    public init(_ container: JSONValue?) {
        let words = (container?["command"]?.arrayValue ?? []) + (container?["args"]?.arrayValue ?? [])
        let args = words.compactMap(\.stringValue)
        var index = 0
        while index < args.count {
            let arg = args[index]
            index += 1
            guard arg.hasPrefix("-") else { continue }
            let name = String(arg.drop { $0 == "-" })
            if let eq = name.firstIndex(of: "=") {
                values[String(name[..<eq])] = String(name[name.index(after: eq)...])
            } else if index < args.count, !args[index].hasPrefix("-") {
                values[name] = args[index]
                index += 1
            } else {
                values[name] = "true"
            }
        }
    }

    /// A boolean flag as Go's flag package reads it (true, 1, t).
    public func bool(_ name: String) -> Bool? { values[name].map { ["true", "1", "t"].contains($0.lowercased()) } }
}

/// Where a CSI driver DaemonSet expects kubelet: the root dir (`linux.kubeletRootDir`) behind its pods-dir hostPath.
public enum KubeletRootDir {
    /// `<root>` of the first `hostPath` ending in `/pods`; nil when the DaemonSet mounts none.
    public static func of(daemonSet: JSONValue) -> String? {
        daemonSet.list("spec", "template", "spec", "volumes").compactMap { $0.text("hostPath", "path") }
            .first { $0.hasSuffix("/pods") || $0.hasSuffix("/pods/") }
            .map { String($0.dropLast($0.hasSuffix("/") ? 6 : 5)) }
    }
}
