import AzureIdentity
import AzureProvider
import Foundation
import Kubernetes
import StructuredJSON

/// Stage 1: what uses the CSI driver today, and everything the later stages need to keep it working.
public struct Inventory: Codable, Sendable {
    public struct ClassEntry: Codable, Sendable {
        public var namespace: String
        public var name: String
        public var provider: String
        public var cloudName: String
        public var identity: String
        public var clientID: String?
        public var objects: [ObjectEntry]
        public var files: [FileLayout.File]
        public var secretObjects: [SecretObjectEntry]
        /// Why this SPC cannot move (left untouched).
        public var blockers: [String]
    }
    public struct ObjectEntry: Codable, Sendable {
        public var name: String
        public var type: String
        public var alias: String?
        public var versionHistory: Int
        public var filePermission: String?
    }
    public struct SecretObjectEntry: Codable, Sendable {
        public var secretName: String
        public var type: String
        /// Secret key → the SPC object (alias or name) it comes from.
        public var keys: [String: String]
        public var consumers: [Consumer]
    }
    public struct Consumer: Codable, Sendable {
        public var workload: String
        public var container: String
        /// `env secretKeyRef KEY`, `envFrom`, `volume`, `projected volume`.
        public var how: String
    }
    public struct WorkloadEntry: Codable, Sendable {
        public var kind: String
        public var namespace: String
        public var name: String
        public var serviceAccount: String
        public var windows: Bool
        public var pods: [String]
        public var volumes: [VolumeEntry]
        public var blockers: [String]
        public var warnings: [String]
    }
    public struct VolumeEntry: Codable, Sendable {
        public var name: String
        public var secretProviderClass: String
        public var mounts: [Mount]
        public var nodePublishSecretRef: String?
        /// The `clientid` the nodePublishSecretRef Secret holds (never its `clientsecret`).
        public var clientid: String?
        public var identity: String
    }
    public struct Mount: Codable, Sendable {
        public var container: String
        public var mountPath: String
        public var subPath: String?
    }
    public struct DriverSettings: Codable, Sendable {
        public var daemonSet: String
        public var enableSecretRotation: Bool
        public var rotationPollInterval: String
        public var syncSecret: Bool
        public var kubeletRootDir: String?
        public var writeCertAndKeyInSeparateFiles: Bool
    }

    public var classes: [ClassEntry] = []
    public var workloads: [WorkloadEntry] = []
    public var driver: DriverSettings?
    /// nodePublishSecretRef Secrets (`namespace/name`): deleted by cleanup, only after verify, only with --confirm.
    public var credentialSecrets: [String] = []

    /// Builds the inventory of a snapshot.
    public static func build(_ snapshot: ClusterSnapshot) -> Inventory {
        var inventory = Inventory()
        inventory.driver = driverSettings(snapshot)
        for spc in snapshot.classes { inventory.classes.append(classEntry(spc, snapshot: snapshot)) }
        var credentials = Set<String>()
        for workload in snapshot.workloads where !workload.csiVolumes.isEmpty {
            let entry = workloadEntry(workload, snapshot: snapshot)
            for volume in entry.volumes { if let ref = volume.nodePublishSecretRef { credentials.insert("\(entry.namespace)/\(ref)") } }
            inventory.workloads.append(entry)
        }
        inventory.credentialSecrets = credentials.sorted()
        // The same order whatever the source (a cluster lists kind by kind, files come in file order).
        inventory.classes.sort { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
        inventory.workloads.sort { ($0.namespace, $0.kind, $0.name) < ($1.namespace, $1.kind, $1.name) }
        return inventory
    }

    static func identity(_ parameters: [String: String]) -> (mode: String, clientID: String?) {
        func flag(_ key: String) -> Bool { ["true", "1", "t", "True", "TRUE"].contains(parameters[key]?.trimmingCharacters(in: .whitespaces) ?? "") }
        if flag("usePodIdentity") { return ("pod identity", nil) }
        if flag("useVMManagedIdentity") {
            let id = parameters["userAssignedIdentityID"] ?? ""
            return (id.isEmpty ? "system-assigned VM managed identity" : "user-assigned managed identity \(id)", nil)
        }
        if let id = parameters["clientID"], !id.isEmpty { return ("workload identity", id) }
        return ("service principal", nil)
    }

    static func classEntry(_ spc: JSONValue, snapshot: ClusterSnapshot) -> ClassEntry {
        let parameters = (spc[path: ["spec", "parameters"]]?.objectValue ?? [:]).compactMapValues(\.stringValue)
        let namespace = spc.text("metadata", "namespace") ?? "default"
        let name = spc.text("metadata", "name") ?? ""
        let provider = spc.text("spec", "provider") ?? ""
        let cloud = parameters["cloudName"] ?? ""
        var (mode, clientID) = identity(parameters)
        if let original = spc.text("metadata", "annotations", Translation.originalIdentityAnnotation) { mode = original }
        var blockers: [String] = []
        var objects: [ObjectEntry] = []
        var files: [FileLayout.File] = []
        if provider != "azure" { blockers.append("spec.provider is '\(provider)': only provider azure migrates to the Secret Store extension") }
        if ["azureusgovernmentcloud", "azurechinacloud"].contains(cloud.lowercased()) {
            blockers.append("cloudName \(cloud): the Secret Store extension does not support this cloud; keep this SecretProviderClass on the CSI driver")
        }
        do {
            for object in try KeyVaultObject.parseList(parameters["objects"] ?? "") {
                objects.append(ObjectEntry(name: object.objectName, type: object.objectType.rawValue, alias: object.objectAlias.isEmpty ? nil : object.objectAlias,
                                           versionHistory: object.objectVersionHistory, filePermission: object.filePermission.map { "0" + String($0, radix: 8) }))
            }
            files = try FileLayout.of(spc).files
        } catch {
            blockers.append("parameters.objects: \(error.description)")
        }
        let secretObjects = spc.list("spec", "secretObjects").map { entry -> SecretObjectEntry in
            let secretName = entry.text("secretName") ?? ""
            var keys: [String: String] = [:]
            for item in entry.list("data") { if let key = item.text("key") { keys[key] = item.text("objectName") ?? "" } }
            return SecretObjectEntry(secretName: secretName, type: entry.text("type") ?? "Opaque", keys: keys,
                                     consumers: consumers(of: secretName, namespace: namespace, snapshot: snapshot))
        }
        return ClassEntry(namespace: namespace, name: name, provider: provider, cloudName: cloud, identity: mode, clientID: clientID,
                          objects: objects, files: files, secretObjects: secretObjects, blockers: blockers)
    }

    /// Every reader of a Secret: env secretKeyRef, envFrom, Secret volumes and projected volumes.
    static func consumers(of secret: String, namespace: String, snapshot: ClusterSnapshot) -> [Consumer] {
        var found: [Consumer] = []
        for workload in snapshot.workloads where workload.namespace == namespace {
            for container in workload.containers {
                let name = container.text("name") ?? ""
                for env in container.list("env") where env.text("valueFrom", "secretKeyRef", "name") == secret {
                    found.append(Consumer(workload: workload.key, container: name, how: "env secretKeyRef \(env.text("valueFrom", "secretKeyRef", "key") ?? "")"))
                }
                for source in container.list("envFrom") where source.text("secretRef", "name") == secret {
                    found.append(Consumer(workload: workload.key, container: name, how: "envFrom"))
                }
            }
            for volume in workload.podSpec.list("volumes") {
                if volume.text("secret", "secretName") == secret { found.append(Consumer(workload: workload.key, container: "", how: "volume \(volume.text("name") ?? "")")) }
                if volume.list("projected", "sources").contains(where: { $0.text("secret", "name") == secret }) {
                    found.append(Consumer(workload: workload.key, container: "", how: "projected volume \(volume.text("name") ?? "")"))
                }
            }
        }
        return found
    }

    static func workloadEntry(_ workload: Workload, snapshot: ClusterSnapshot) -> WorkloadEntry {
        var blockers: [String] = []
        var warnings: [String] = []
        if workload.isWindows { blockers.append("Windows workload (nodeSelector kubernetes.io/os: windows): the Secret Store extension runs on Linux only; left on the CSI driver") }
        if workload.isBarePod { warnings.append("bare pod: recreated only with --recreate-bare-pods") }
        let pods = snapshot.ownedPods.filter { pod in
            pod.text("metadata", "namespace") == workload.namespace && snapshot.ownerChain(pod).last == "\(workload.kind)/\(workload.name)"
        }.map { "\($0.text("metadata", "name") ?? "") (\(snapshot.ownerChain($0).joined(separator: " → ")))" }
        var volumes: [VolumeEntry] = []
        for volume in workload.csiVolumes {
            let name = volume.text("name") ?? ""
            let className = volume.text("csi", "volumeAttributes", "secretProviderClass") ?? ""
            var mounts: [Mount] = []
            for container in workload.containers {
                for mount in container.list("volumeMounts") where mount.text("name") == name {
                    let subPath = mount.text("subPath")
                    mounts.append(Mount(container: container.text("name") ?? "", mountPath: mount.text("mountPath") ?? "", subPath: subPath))
                    if let subPath, !subPath.isEmpty {
                        warnings.append("\(container.text("name") ?? ""):\(mount.text("mountPath") ?? "") mounts \(name) with subPath \(subPath): it never saw rotation, and after migration it still won't")
                    }
                }
            }
            let ref = volume.text("csi", "nodePublishSecretRef", "name")
            let stored = ref.flatMap { snapshot.secret($0, namespace: workload.namespace) }.flatMap { secret in
                (secret["data"]?.objectValue ?? [:]).first { $0.key.lowercased() == "clientid" }?.value.stringValue
            }
            // The snapshot keeps a clientid only when it is a GUID; an emptied one was something else (never printed).
            let clientid = stored.flatMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }
                .flatMap { $0.isEmpty ? nil : $0 }
            if let ref, stored != nil, clientid == nil {
                warnings.append("volume \(name): the clientid of nodePublishSecretRef Secret \(ref) is not an application (client) ID GUID: are clientid and clientsecret swapped?")
            }
            let spc = snapshot.spc(className, namespace: workload.namespace)
            if spc == nil { blockers.append("volume \(name): SecretProviderClass \(workload.namespace)/\(className) not found") }
            let mode = spc.map { identity((($0[path: ["spec", "parameters"]]?.objectValue) ?? [:]).compactMapValues(\.stringValue)).mode } ?? "unknown"
            volumes.append(VolumeEntry(name: name, secretProviderClass: className, mounts: mounts, nodePublishSecretRef: ref, clientid: clientid, identity: mode))
        }
        return WorkloadEntry(kind: workload.kind, namespace: workload.namespace, name: workload.name, serviceAccount: workload.serviceAccount,
                             windows: workload.isWindows, pods: pods, volumes: volumes, blockers: blockers, warnings: warnings)
    }

    static func driverSettings(_ snapshot: ClusterSnapshot) -> DriverSettings? {
        guard let ds = snapshot.driverDaemonSets.first else { return nil }
        let containers = ds.list("spec", "template", "spec", "containers")
        let main = containers.first { $0.text("name") == "secrets-store" } ?? containers.first
        let flags = ContainerFlags(main)
        let provider = ContainerFlags(snapshot.providerDaemonSets.first?.list("spec", "template", "spec", "containers").first)
        return DriverSettings(daemonSet: ds.objectKey, enableSecretRotation: flags.bool("enable-secret-rotation") ?? false,
                              rotationPollInterval: flags.values["rotation-poll-interval"] ?? "2m", syncSecret: flags.bool("enable-secret-sync") ?? true,
                              kubeletRootDir: KubeletRootDir.of(daemonSet: ds),
                              writeCertAndKeyInSeparateFiles: provider.bool("write-cert-and-key-in-separate-files") ?? flags.bool("write-cert-and-key-in-separate-files") ?? false)
    }
}

