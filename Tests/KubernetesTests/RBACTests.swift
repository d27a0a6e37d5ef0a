import Foundation
import Kubernetes
import KubernetesTestServer
import SecretsStoreAPI
import StructuredJSON
import Testing

/// A service account's own token is authorized by the stored RBAC objects, as kube-apiserver's RBAC authorizer does,
/// and every decision is logged, so a role's real calls can be compared with what its ClusterRole grants.
@Suite struct RBACTests {
    static let clusterRole = ResourceKind(group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRole", plural: "clusterroles", namespaced: false)
    static let roleBinding = ResourceKind(group: "rbac.authorization.k8s.io", version: "v1", kind: "RoleBinding", plural: "rolebindings")

    @Test func aServiceAccountTokenIsAuthorizedByItsRoles() async throws {
        try await withCluster { server, admin in
            _ = try await admin.create(Namespace(name: "apps"))
            _ = try await admin.create(ServiceAccount(metadata: ObjectMeta(name: "reader", namespace: "apps")))
            _ = try await admin.create(secret("db", namespace: "apps", ["password": "x"]))
            _ = try await admin.create(Self.clusterRole, body: ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": ["name": "secret-reader"],
                                                                "rules": [["apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]]]])
            _ = try await admin.create(Self.roleBinding, namespace: "apps", body: [
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": ["name": "reader", "namespace": "apps"],
                "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "secret-reader"],
                "subjects": [["kind": "ServiceAccount", "name": "reader", "namespace": "apps"]]])
            let token = try await admin.requestToken(serviceAccount: "reader", namespace: "apps", audiences: [server.url.absoluteString])
            let client = try KubernetesClient(configuration: KubernetesConfiguration.kubeconfig(yaml: server.kubeconfig(token: token.token, namespace: "apps"),
                                                                                                 directory: "/", source: "test"))
            defer { Task { await client.shutdown() } }
            _ = await server.access(reset: true)

            #expect(try await client.get(Secret.self, name: "db", namespace: "apps").metadata.name == "db")
            let list = await kubeError { _ = try await client.list(Secret.self, namespace: "apps") }
            #expect(list?.code == 403)
            #expect(list?.description.contains("User \"system:serviceaccount:apps:reader\" cannot list resource \"secrets\" in API group \"\" in the namespace \"apps\"") == true)
            let elsewhere = await kubeError { _ = try await client.get(Secret.self, name: "db", namespace: "default") }
            #expect(elsewhere?.code == 403)
            let cluster = await kubeError { _ = try await client.objects(ResourceKind(group: "", version: "v1", kind: "Node", plural: "nodes", namespaced: false)) }
            #expect(cluster?.description.contains("at the cluster scope") == true)

            let log = (await server.access()).arrayValue ?? []
            let decisions = log.map { "\($0["verb"]?.stringValue ?? "") \($0["resource"]?.stringValue ?? "") \($0["namespace"]?.stringValue ?? "") \($0["allowed"]?.boolValue == true)" }
            #expect(Set(decisions) == ["get secrets apps true", "list secrets apps false", "get secrets default false", "list nodes  false"])

            // A deleted service account's token no longer authenticates.
            try await admin.delete(ServiceAccount.self, name: "reader", namespace: "apps")
            #expect(await kubeError { _ = try await client.get(Secret.self, name: "db", namespace: "apps") }?.code == 401)
        }
    }
}
