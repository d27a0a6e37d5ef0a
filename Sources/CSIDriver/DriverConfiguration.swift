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
    /// How old the last good content of a mount may be when served during a vault outage, for classes that do not say
    /// (`akvs.io/serve-stale-on-outage`); zero: never (upstream's behaviour).
    public var serveStaleOnOutage: Duration = .zero
    /// Where the last good content is kept: a tmpfs (mounted there when the folder is not one), never on disk.
    public var staleStoreDirectory = "/run/akvs-csi/last-good"
    /// The most the kept content may use; the oldest entries go first.
    public var staleStoreMaxBytes = 64 << 20
    /// How often a republish checks a class's synced Secrets against the mounted files without calling the provider
    /// (per class and node; an edit of `secretObjects` is applied at the next republish whatever this says).
    public var secretCheckInterval: Duration = .seconds(120)
    /// How long a publish waits for a SecretProviderClass missing from the watch cache: just created (the watch lags a
    /// little), or the first sync after a start.
    public var classWatchLag: Duration = .seconds(2)
    public var classCacheSync: Duration = .seconds(10)
    /// Watch this node's pods so `akvs.io/refresh-requested-at` on a pod refreshes its mounts (needs pods list/watch).
    public var watchPods = true
    public init(nodeID: String, version: String = "0.1.0") {
        self.nodeID = nodeID
        self.version = version
    }
}
