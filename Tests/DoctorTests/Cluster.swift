import Doctor
import EmulatorTestSupport
import Foundation
import KeyVault
import Kubernetes
import KubernetesTestServer
import SecretsStoreAPI
import StructuredJSON

/// A test-server cluster with akvs "installed" as the chart installs it, a healthy workload-identity pod and
/// SecretSync, and an emulator that trusts the cluster's service-account tokens. Each test breaks one thing.
struct Cluster: Sendable {
    let server: KubeTestServer
    let client: KubernetesClient
    let emulator: EmulatorFixture

    static let workloadID = "55555555-5555-4555-8555-555555555555"
    static let strangerID = "66666666-6666-4666-8666-666666666666"

    static func with(_ body: (Cluster) async throws -> Void) async throws {
        try await KubeTestServer.with { server in
            let config = try KubernetesConfiguration.kubeconfig(yaml: server.kubeconfig(), directory: "/", source: "test")
            let client = try KubernetesClient(configuration: config)
            let jwks = String(decoding: server.issuer.jwks.encoded(), as: UTF8.self)
            let seed = """
            tenantId: \(EmulatorFixture.tenant)
            vaults:
              - name: doc-kv
                secrets:
                  - {name: db, value: db-canary-value}
                  - {name: api, value: api-canary-value}
                  - {name: off, value: off-canary-value, enabled: false}
              - name: other-kv
                secrets:
                  - {name: elsewhere, value: x}
            identities:
              - name: workload
                clientId: \(workloadID)
                federatedCredentials:
                  - {issuer: "\(server.issuer.issuer)", subject: "system:serviceaccount:apps:web"}
                access: {doc-kv: read}
              - name: stranger
                clientId: \(strangerID)
                federatedCredentials:
                  - {issuer: "\(server.issuer.issuer)", subject: "system:serviceaccount:apps:web"}
                access: {other-kv: read}
              - name: reader
                clientId: \(EmulatorFixture.readerID)
                clientSecret: \(EmulatorFixture.readerSecret)
                access: {doc-kv: read}
            issuers:
              - issuer: "\(server.issuer.issuer)"
                jwks: \(jwks)
            """
            do {
                try await EmulatorFixture.with(seed: seed) { emulator in
                    let cluster = Cluster(server: server, client: client, emulator: emulator)
                    try await cluster.install()
                    try await body(cluster)
                }
            } catch {
                await client.shutdown()
                throw error
            }
            await client.shutdown()
        }
    }

    // MARK: running the doctor

    func doctor(probe: Bool = false) -> Doctor {
        Doctor(client: client, probe: probe ? VaultProbe(session: emulator.session, client: client) : nil)
    }

    // MARK: writing objects

    @discardableResult
    func create(_ kind: ResourceKind, _ body: JSONValue, status: JSONValue? = nil) async throws -> JSONValue {
        var created = try await client.create(kind, namespace: body[path: ["metadata", "namespace"]]?.stringValue, body: body)
        if let status {
            created = try await client.patch(kind, name: created[path: ["metadata", "name"]]?.stringValue ?? "", namespace: created[path: ["metadata", "namespace"]]?.stringValue,
                                             .merge(["status": status]), subresource: "status")
        }
        return created
    }

    func patch(_ kind: ResourceKind, _ name: String, namespace: String? = nil, _ merge: JSONValue, status: Bool = false) async throws {
        _ = try await client.patch(kind, name: name, namespace: namespace, .merge(merge), subresource: status ? "status" : nil)
    }

    func delete(_ kind: ResourceKind, _ name: String, namespace: String? = nil) async throws {
        try await client.delete(kind, name: name, namespace: namespace)
    }

    static func meta(_ name: String, _ namespace: String? = nil, labels: [String: String] = [:]) -> JSONValue {
        var meta: JSONValue = ["name": .string(name)]
        if let namespace { meta["namespace"] = .string(namespace) }
        if !labels.isEmpty { meta["labels"] = .object(labels.mapValues { .string($0) }) }
        return meta
    }

    static func readyStatus(waiting: String? = nil, restarts: Int = 0, lastTerminated: String? = nil) -> JSONValue {
        let ready = waiting == nil
        var container: JSONValue = ["name": "secrets-store", "ready": .bool(ready), "restartCount": .number(Double(restarts)),
                                    "state": ready ? ["running": ["startedAt": "2026-12-01T10:00:00Z"]] : ["waiting": ["reason": .string(waiting!)]]]
        if let lastTerminated { container["lastState"] = ["terminated": ["reason": .string(lastTerminated), "exitCode": 2]] }
        return ["phase": ready ? "Running" : "Running",
                "conditions": [["type": "Ready", "status": ready ? "True" : "False"]],
                "containerStatuses": [container]]
    }

    // MARK: the healthy baseline

    static let kinds = (
        namespace: ResourceKind(group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false),
        pod: ResourceKind(group: "", version: "v1", kind: "Pod", plural: "pods"),
        secret: ResourceKind(group: "", version: "v1", kind: "Secret", plural: "secrets"),
        serviceAccount: ResourceKind(group: "", version: "v1", kind: "ServiceAccount", plural: "serviceaccounts"),
        event: ResourceKind(group: "", version: "v1", kind: "Event", plural: "events"),
        node: ResourceKind(group: "", version: "v1", kind: "Node", plural: "nodes", namespaced: false),
        csiNode: ResourceKind(group: "storage.k8s.io", version: "v1", kind: "CSINode", plural: "csinodes", namespaced: false),
        csiDriver: ResourceKind(group: "storage.k8s.io", version: "v1", kind: "CSIDriver", plural: "csidrivers", namespaced: false),
        daemonSet: ResourceKind(group: "apps", version: "v1", kind: "DaemonSet", plural: "daemonsets"),
        deployment: ResourceKind(group: "apps", version: "v1", kind: "Deployment", plural: "deployments"),
        lease: ResourceKind(group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases"),
        clusterRole: ResourceKind(group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRole", plural: "clusterroles", namespaced: false),
        clusterRoleBinding: ResourceKind(group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRoleBinding", plural: "clusterrolebindings", namespaced: false),
        crd: ResourceKind(group: "apiextensions.k8s.io", version: "v1", kind: "CustomResourceDefinition", plural: "customresourcedefinitions", namespaced: false)
    )

    var spcParameters: [String: JSONValue] {
        ["keyvaultName": "doc-kv", "tenantId": .string(EmulatorFixture.tenant), "clientID": .string(Self.workloadID), "cloudName": "AzureStackCloud",
         "cloudEnvFileName": .string(emulator.emulator.credentials.cloudEnvFile),
         "objects": "array:\n  - |\n    objectName: db\n    objectType: secret\n  - |\n    objectName: api\n    objectType: secret\n"]
    }

    func install() async throws {
        let k = Self.kinds
        for ns in ["apps"] { try await create(k.namespace, ["apiVersion": "v1", "kind": "Namespace", "metadata": Self.meta(ns)]) }
        try await create(k.node, ["apiVersion": "v1", "kind": "Node", "metadata": Self.meta("node-1", labels: ["kubernetes.io/os": "linux"])])
        try await create(k.csiNode, ["apiVersion": "storage.k8s.io/v1", "kind": "CSINode", "metadata": Self.meta("node-1"),
                                     "spec": ["drivers": [["name": "secrets-store.csi.k8s.io", "nodeID": "node-1"]]]])
        try await create(k.csiDriver, ["apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver", "metadata": Self.meta("secrets-store.csi.k8s.io"),
                                       "spec": ["podInfoOnMount": true, "attachRequired": false, "requiresRepublish": true, "volumeLifecycleModes": ["Ephemeral"],
                                                "tokenRequests": [["audience": "api://AzureADTokenExchange"]]]])
        let driverArgs: [JSONValue] = ["--endpoint=unix:///csi/csi.sock", "--nodeid=$(KUBE_NODE_NAME)", "--enable-secret-rotation=true",
                                       "--rotation-poll-interval=2m", "--enable-secret-sync=true"]
        try await create(k.daemonSet, ["apiVersion": "apps/v1", "kind": "DaemonSet",
                                       "metadata": Self.meta("akvs-secrets-store-csi-driver", "kube-system", labels: ["app": "secrets-store-csi-driver"]),
                                       "spec": ["selector": ["matchLabels": ["app": "secrets-store-csi-driver"]],
                                                "template": ["metadata": ["labels": ["app": "secrets-store-csi-driver"]],
                                                             "spec": ["containers": [["name": "secrets-store", "image": "akvs:0.1.0", "args": .array(driverArgs)]],
                                                                      "volumes": [["name": "mountpoint-dir", "hostPath": ["path": "/var/lib/kubelet/pods"]]]]]]],
                         status: ["desiredNumberScheduled": 1, "numberReady": 1])
        try await create(k.daemonSet, ["apiVersion": "apps/v1", "kind": "DaemonSet",
                                       "metadata": Self.meta("akvs-secrets-store-provider-azure", "kube-system", labels: ["app": "secrets-store-provider-azure"]),
                                       "spec": ["selector": ["matchLabels": ["app": "secrets-store-provider-azure"]],
                                                "template": ["metadata": ["labels": ["app": "secrets-store-provider-azure"]],
                                                             "spec": ["containers": [["name": "provider-azure-installer", "image": "akvs:0.1.0", "args": ["provider"]]]]]]],
                         status: ["desiredNumberScheduled": 1, "numberReady": 1])
        try await systemPod("akvs-driver-x1", app: "secrets-store-csi-driver")
        try await systemPod("akvs-provider-x1", app: "secrets-store-provider-azure")

        try await create(k.serviceAccount, ["apiVersion": "v1", "kind": "ServiceAccount", "metadata": Self.meta("web", "apps")])
        try await create(SecretProviderClass.resourceKind, ["apiVersion": "secrets-store.csi.x-k8s.io/v1", "kind": "SecretProviderClass", "metadata": Self.meta("vault", "apps"),
                                                            "spec": ["provider": "azure", "parameters": .object(spcParameters)]])
        try await create(k.pod, ["apiVersion": "v1", "kind": "Pod", "metadata": Self.meta("web", "apps"),
                                 "spec": ["nodeName": "node-1", "serviceAccountName": "web",
                                          "containers": [["name": "app", "image": "busybox", "volumeMounts": [["name": "secrets", "mountPath": "/mnt/secrets", "readOnly": true]]]],
                                          "volumes": [["name": "secrets", "csi": ["driver": "secrets-store.csi.k8s.io", "readOnly": true,
                                                                                  "volumeAttributes": ["secretProviderClass": "vault"]]]]]],
                         status: ["phase": "Running"])
        try await create(SecretProviderClassPodStatus.resourceKind, ["apiVersion": "secrets-store.csi.x-k8s.io/v1", "kind": "SecretProviderClassPodStatus",
                                                                     "metadata": Self.meta("web-apps-vault", "apps", labels: ["internal.secrets-store.csi.k8s.io/node-name": "node-1"]),
                                                                     // No status subresource on this CRD, as upstream: status is part of the object.
                                                                     "status": ["podName": "web", "secretProviderClassName": "vault", "mounted": true, "targetPath": "/var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/secrets/mount",
                                  "objects": [["id": "secret/db", "version": "1"], ["id": "secret/api", "version": "1"]]]])
        try await installSyncController()
    }

    func systemPod(_ name: String, app: String, status: JSONValue = Cluster.readyStatus()) async throws {
        try await create(Self.kinds.pod, ["apiVersion": "v1", "kind": "Pod", "metadata": Self.meta(name, "kube-system", labels: ["app": app]),
                                          "spec": ["nodeName": "node-1", "containers": [["name": "secrets-store", "image": "akvs:0.1.0"]]]], status: status)
    }

    func installSyncController() async throws {
        let k = Self.kinds
        try await create(k.serviceAccount, ["apiVersion": "v1", "kind": "ServiceAccount", "metadata": Self.meta("akvs-secrets-store-sync-controller", "kube-system")])
        try await create(k.deployment, ["apiVersion": "apps/v1", "kind": "Deployment",
                                        "metadata": Self.meta("akvs-secrets-store-sync-controller", "kube-system", labels: ["app": "secrets-store-sync-controller"]),
                                        "spec": ["replicas": 1, "selector": ["matchLabels": ["app": "secrets-store-sync-controller"]],
                                                 "template": ["metadata": ["labels": ["app": "secrets-store-sync-controller"]],
                                                              "spec": ["serviceAccountName": "akvs-secrets-store-sync-controller",
                                                                       "containers": [["name": "manager", "image": "akvs:0.1.0",
                                                                                       "args": ["sync-controller", "--rotation-poll-interval=3600s", "--jitter-seconds=0",
                                                                                                "--enable-partial-secret-sync=false", "--token-request-audience=api://AzureADTokenExchange",
                                                                                                "--leader-elect", "--leader-election-namespace=kube-system"]]]]]]],
                         status: ["replicas": 1, "readyReplicas": 1])
        try await create(k.clusterRole, ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": Self.meta("akvs-secrets-store-sync-controller"),
                                         "rules": [["apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]],
                                                   ["apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "watch", "create", "patch", "update"]]]])
        try await create(k.clusterRoleBinding, ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": Self.meta("akvs-secrets-store-sync-controller"),
                                                "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "akvs-secrets-store-sync-controller"],
                                                "subjects": [["kind": "ServiceAccount", "name": "akvs-secrets-store-sync-controller", "namespace": "kube-system"]]])
        try await create(k.lease, ["apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": Self.meta("29f1d54e.secret-sync.x-k8s.io", "kube-system"),
                                   "spec": ["holderIdentity": "akvs-secrets-store-sync-controller-abc_1", "leaseDurationSeconds": 15,
                                            "renewTime": .string(APITime.string(Date()))]])
        let sync = try await create(SecretSync.resourceKind, ["apiVersion": "secret-sync.x-k8s.io/v1alpha1", "kind": "SecretSync", "metadata": Self.meta("db", "apps"),
                                                              "spec": ["secretProviderClassName": "vault", "serviceAccountName": "web",
                                                                       "secretObject": ["type": "Opaque", "data": [["sourcePath": "db", "targetKey": "password"]]]]],
                                    status: ["conditions": [["type": "Create", "status": "True", "reason": "CreateSucceeded", "message": "The secret was created successfully.",
                                                             "lastTransitionTime": "2026-12-01T10:00:00Z"]]])
        try await create(k.secret, ["apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                                    "metadata": ["name": "db", "namespace": "apps",
                                                 "ownerReferences": [["apiVersion": "secret-sync.x-k8s.io/v1alpha1", "kind": "SecretSync", "name": "db",
                                                                      "uid": sync[path: ["metadata", "uid"]] ?? "", "controller": true]]],
                                    "data": ["password": .string(Data("db-canary-value".utf8).base64EncodedString())]])
    }
}
