/// Settings of `akvs csi-driver`, named after the upstream driver's flags and the extension's settings.
public struct DriverConfiguration: Sendable {
    /// `--drivername`: the CSI plugin name kubelet knows the driver by.
    public var driverName = "secrets-store.csi.k8s.io"
    /// `--nodeid`: this node; labels the SecretProviderClassPodStatus objects.
    public var nodeID: String
    /// The version reported by GetPluginInfo.
    public var version: String
    /// `--provider-volume`: where providers put `<provider>.sock`.
    public var providerVolumePath = "/var/run/secrets-store-csi-providers"
    /// `--additional-provider-volume-paths`: searched before `providerVolumePath`.
    public var additionalProviderVolumePaths = ["/etc/kubernetes/secrets-store-csi-providers"]
    /// `--enable-secret-rotation` (extension setting `enableSecretRotation`).
    public var enableSecretRotation = false
    /// `--rotation-poll-interval` (`rotationPollInterval`): the least time between two provider calls for one volume.
    public var rotationPollInterval: Duration = .seconds(120)
    /// Sync `secretObjects` into Kubernetes Secrets (`syncSecret.enabled`).
    public var syncSecrets = true
    /// `--max-call-recv-msg-size`: the largest provider reply accepted.
    public var maxCallRecvMessageSize = 4 * 1024 * 1024
    /// How long one provider Mount call may take.
    public var providerTimeout: Duration = .seconds(60)
    /// Mount a tmpfs at each target (false only where mounting is impossible, e.g. an unprivileged dry run).
    public var mountTmpfs = true
    /// First delay before a failed Secret sync is tried again (doubling up to 5 minutes).
    public var secretSyncRetryDelay: Duration = .seconds(5)
    /// The reporting controller of Events (upstream: `csi-secrets-store-controller`).
    public var eventSource = "csi-secrets-store-controller"

    /// A Warning on a pod's SecretProviderClassPodStatus when an object it mounts expires within this long (once per
    /// object version and day); zero: never. Only providers that say when objects expire (the in-process Azure provider).
    public var expiryWarning: Duration = .seconds(30 * 86400)
    public init(nodeID: String, version: String = "0.1.0") {
        self.nodeID = nodeID
        self.version = version
    }
}
