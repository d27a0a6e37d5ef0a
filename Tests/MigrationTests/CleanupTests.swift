import Foundation
import Kubernetes
import KubernetesTestServer
import Migration
import SecretsStoreAPI
import StructuredJSON
import Testing

/// Cleanup against the test server, which answers lists as kube-apiserver does (items without `kind`): a credentials
/// Secret goes only when nothing in its namespace names it, and anything unreadable keeps it.
@Suite struct CleanupTests {
    static let namespace = "shop"

    static func inventory(_ secrets: [String]) throws -> Inventory {
        let document: JSONValue = ["classes": [], "workloads": [], "credentialSecrets": .array(secrets.map { .string("\(namespace)/\($0)") })]
        return try JSONDecoder().decode(Inventory.self, from: document.encoded())
    }

    static func withCluster(registry: ResourceRegistry = .standard, _ body: (KubernetesClient) async throws -> Void) async throws {
        try await KubeTestServer.with(KubeTestServerOptions(registry: registry)) { server in
            let client = try KubernetesClient(configuration: try KubernetesConfiguration.kubeconfig(yaml: server.kubeconfig(), directory: "/", source: "test"))
            do {
                _ = try await client.create(Namespace(name: namespace))
                for name in ["env-creds", "volume-creds", "csi-creds", "pull-creds", "unused-creds"] {
                    _ = try await client.create(Secret(metadata: ObjectMeta(name: name, namespace: namespace), data: ["clientid": Data("id".utf8)]))
                }
                try await body(client)
            } catch {
                await client.shutdown()
                throw error
            }
            await client.shutdown()
        }
    }

    static func create(_ client: KubernetesClient, _ kind: ResourceKind, _ body: JSONValue) async throws {
        _ = try await client.create(kind, namespace: namespace, body: body)
    }

    static let deployment = ResourceKind(group: "apps", version: "v1", kind: "Deployment", plural: "deployments")
    static let cronJob = ResourceKind(group: "batch", version: "v1", kind: "CronJob", plural: "cronjobs")

    static func blockers(_ client: KubernetesClient, _ secrets: [String]) async throws -> [String: String] {
        let inventory = try inventory(secrets)
        let usage = await CredentialUsage.scan(client: client, namespaces: Cleanup.namespaces(of: inventory))
        var result: [String: String] = [:]
        for change in Cleanup(inventory: inventory, usage: usage).changes(existing: { _, _ in true }) {
            result[String(change.subject.dropFirst("Secret/".count))] = change.operation == .delete ? "delete" : change.detail
        }
        return result
    }

    @Test func aSecretNamedAnywhereInAPodOrTemplateStays() async throws {
        try await Self.withCluster { client in
            try await Self.create(client, Pod.resourceKind, ["metadata": ["name": "bare"], "spec": [
                "containers": [["name": "app", "image": "busybox", "env": [["name": "ID", "valueFrom": ["secretKeyRef": ["name": "env-creds", "key": "clientid"]]]]]],
                "imagePullSecrets": [["name": "pull-creds"]]]])
            try await Self.create(client, Self.deployment, ["metadata": ["name": "web"], "spec": [
                "selector": ["matchLabels": ["app": "web"]],
                "template": ["metadata": ["labels": ["app": "web"]], "spec": [
                    "containers": [["name": "app", "image": "busybox"]],
                    "volumes": [["name": "legacy", "secret": ["secretName": "volume-creds"]]]]]]])
            try await Self.create(client, Self.cronJob, ["metadata": ["name": "nightly"], "spec": ["schedule": "0 0 * * *", "jobTemplate": ["spec": ["template": ["spec": [
                "restartPolicy": "Never", "containers": [["name": "job", "image": "busybox"]],
                "volumes": [["name": "kv", "csi": ["driver": "secrets-store.csi.k8s.io", "volumeAttributes": ["secretProviderClass": "vault"],
                                                   "nodePublishSecretRef": ["name": "csi-creds"]]]]]]]]]])
            let result = try await Self.blockers(client, ["env-creds", "volume-creds", "csi-creds", "pull-creds", "unused-creds"])
            #expect(result["unused-creds"] == "delete")
            #expect(result["env-creds"]?.contains("Pod/bare at containers[app].env[ID].valueFrom.secretKeyRef.name") == true, "\(result)")
            #expect(result["pull-creds"]?.contains("Pod/bare at imagePullSecrets[pull-creds].name") == true, "\(result)")
            #expect(result["volume-creds"]?.contains("Deployment/web at volumes[legacy].secret.secretName") == true, "\(result)")
            #expect(result["csi-creds"]?.contains("CronJob/nightly at volumes[kv].csi.nodePublishSecretRef.name") == true, "\(result)")
        }
    }

    @Test func anObjectWithoutAPodSpecKeepsEverySecretOfItsNamespace() async throws {
        try await Self.withCluster { client in
            try await Self.create(client, Self.deployment, ["metadata": ["name": "odd"], "spec": ["selector": ["matchLabels": ["app": "odd"]]]])
            let result = try await Self.blockers(client, ["unused-creds"])
            #expect(result["unused-creds"]?.contains("Deployment/odd has no pod spec at spec.template.spec") == true, "\(result)")
        }
    }

    @Test func aKindThatCannotBeListedKeepsEverySecretOfItsNamespace() async throws {
        let registry = ResourceRegistry(ResourceRegistry.standard.definitions.filter { $0.kind.plural != "podtemplates" })
        try await Self.withCluster(registry: registry) { client in
            let result = try await Self.blockers(client, ["unused-creds"])
            #expect(result["unused-creds"]?.contains("podtemplates could not be listed") == true, "\(result)")
        }
    }
}
