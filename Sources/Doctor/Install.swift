import Kubernetes
import StructuredJSON

/// The CSI driver as installed: its DaemonSet and the settings in effect.
struct DriverInstall: Sendable {
    var daemonSet: JSONValue
    var flags: ContainerFlags

    var name: String { daemonSet.objectName }
    var namespace: String { daemonSet.text("metadata", "namespace") ?? "" }
    var rotation: Bool { flags.bool("enable-secret-rotation") ?? false }
    var rotationInterval: String { flags.values["rotation-poll-interval"] ?? "2m" }
    var syncSecret: Bool { flags.bool("enable-secret-sync") ?? true }
    var inProcessProvider: Bool { flags.values["azure-provider"] == "in-process" }
    /// From the pods-dir hostPath (`<kubeletRootDir>/pods`).
    var kubeletRootDir: String? { KubeletRootDir.of(daemonSet: daemonSet) }

    var settings: String {
        "enableSecretRotation=\(rotation), rotationPollInterval=\(rotationInterval), syncSecret.enabled=\(syncSecret), "
            + "linux.kubeletRootDir=\(kubeletRootDir ?? "?"), azure provider \(inProcessProvider ? "in-process" : "separate DaemonSet")"
    }

    /// Every driver DaemonSet labelled as the chart and the AKS add-on label it.
    static func find(_ view: ClusterView) async throws(DoctorError) -> [DriverInstall] {
        try await view.list(Kinds.daemonSet, labels: Names.driverLabel).map { ds in
            let containers = ds.list("spec", "template", "spec", "containers")
            let main = containers.first { $0.text("name") == "secrets-store" } ?? containers.first { ($0.text("image") ?? "").contains("akvs") } ?? containers.first
            return DriverInstall(daemonSet: ds, flags: ContainerFlags(main))
        }
    }
}

/// The sync controller as installed: its Deployment, service account and settings.
struct SyncInstall: Sendable {
    var deployment: JSONValue
    var flags: ContainerFlags

    var name: String { deployment.objectName }
    var namespace: String { deployment.text("metadata", "namespace") ?? "default" }
    var serviceAccount: String { deployment.text("spec", "template", "spec", "serviceAccountName") ?? "default" }
    var audience: String { flags.values["token-request-audience"] ?? Names.workloadAudience }
    var leaseNamespace: String { flags.values["leader-election-namespace"] ?? namespace }

    var settings: String {
        "rotationPollIntervalInSeconds=\(flags.values["rotation-poll-interval"] ?? "?"), jitterSeconds=\(flags.values["jitter-seconds"] ?? "?"), "
            + "enablePartialSecretSync=\(flags.values["enable-partial-secret-sync"] ?? "?"), token audience \(audience)"
    }

    static func find(_ view: ClusterView) async throws(DoctorError) -> [SyncInstall] {
        try await view.list(Kinds.deployment, labels: Names.syncLabel).map { deployment in
            let containers = deployment.list("spec", "template", "spec", "containers")
            let main = containers.first { $0.text("name") == "manager" } ?? containers.first
            return SyncInstall(deployment: deployment, flags: ContainerFlags(main))
        }
    }
}
