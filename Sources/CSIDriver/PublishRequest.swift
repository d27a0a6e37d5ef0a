/// A NodePublishVolume request, independent of the wire types.
public struct PublishRequest: Sendable {
    public var volumeID: String
    public var targetPath: String
    public var readOnly: Bool
    public var hasVolumeCapability: Bool
    public var volumeContext: [String: String]
    /// The nodePublishSecretRef Secret's data (and, with `serviceAccountTokenInSecrets`, the tokens).
    public var secrets: [String: String]

    public init(volumeID: String, targetPath: String, readOnly: Bool = true, hasVolumeCapability: Bool = true,
                volumeContext: [String: String], secrets: [String: String] = [:]) {
        self.volumeID = volumeID; self.targetPath = targetPath; self.readOnly = readOnly
        self.hasVolumeCapability = hasVolumeCapability; self.volumeContext = volumeContext; self.secrets = secrets
    }

    /// The request checks upstream makes first (gRPC InvalidArgument), plus a safe target path.
    func validate() throws(PublishError) {
        guard hasVolumeCapability else { throw .invalidRequest("Volume capability missing in request") }
        guard !volumeID.isEmpty else { throw .invalidRequest("Volume ID missing in request") }
        try Self.validateTarget(targetPath)
        guard !volumeContext.isEmpty else { throw .invalidRequest("Volume attributes missing in request") }
    }

    /// A target must be an absolute, clean path: no `..`, `.` or empty elements.
    static func validateTarget(_ path: String) throws(PublishError) {
        guard !path.isEmpty else { throw .invalidRequest("Target path missing in request") }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard path.hasPrefix("/"), path.count > 1, !path.hasSuffix("/"), !path.contains("\0"),
              !parts.dropFirst().contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
            throw .invalidRequest("Target path '\(path)' must be an absolute path without '.', '..' or empty elements")
        }
    }
}
