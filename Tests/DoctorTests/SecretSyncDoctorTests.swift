import Doctor
import Foundation
import SecretsStoreAPI
import StructuredJSON
import Testing

@Suite struct SecretSyncDoctorTests {
    @Test func healthySecretSyncIsAllChecks() async throws {
        try await Cluster.with { cluster in
            let report = await cluster.doctor(probe: true).secretSync("db", namespace: "apps")
            expectHealthy(report)
            #expect(report.checks.first { $0.id == "rbac.tokenRequest" }?.found
                == "allowed (RBAC: allowed by ClusterRoleBinding \"akvs-secrets-store-sync-controller\" of ClusterRole \"akvs-secrets-store-sync-controller\" to ServiceAccount \"akvs-secrets-store-sync-controller/kube-system\")")
            #expect(report.checks.filter { $0.id == "probe.object" }.map(\.subject) == ["vault doc-kv secret/db"])
            expectNoValues(report)
        }
    }

    @Test func secretOwnedBySomeoneElse() async throws {
        try await Cluster.with { cluster in
            try await cluster.patch(Cluster.kinds.secret, "db", namespace: "apps", ["metadata": ["ownerReferences": .null]])
            let check = failure(await cluster.doctor().secretSync("db", namespace: "apps"), "secret")
            #expect(check?.found.contains("owned by nobody (made by hand or another tool)") == true)
            #expect(check?.fix?.contains("kubectl delete secret db -n apps") == true)
        }
    }

    @Test func rbacMissingForTokenRequests() async throws {
        try await Cluster.with { cluster in
            try await cluster.delete(Cluster.kinds.clusterRoleBinding, "akvs-secrets-store-sync-controller")
            let check = failure(await cluster.doctor().secretSync("db", namespace: "apps"), "rbac.tokenRequest")
            #expect(check?.found.hasPrefix("denied") == true)
            #expect(check?.fix?.contains("kubectl create rolebinding akvs-sync-token -n apps --clusterrole=akvs-sync-token --serviceaccount=kube-system:akvs-secrets-store-sync-controller") == true)
        }
    }

    @Test func rbacGrantedByARoleBindingInTheNamespace() async throws {
        try await Cluster.with { cluster in
            try await cluster.delete(Cluster.kinds.clusterRoleBinding, "akvs-secrets-store-sync-controller")
            let roleBinding = ResourceKind(group: "rbac.authorization.k8s.io", version: "v1", kind: "RoleBinding", plural: "rolebindings")
            try await cluster.create(roleBinding, ["apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": Cluster.meta("tokens", "apps"),
                                                   "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "akvs-secrets-store-sync-controller"],
                                                   "subjects": [["kind": "ServiceAccount", "name": "akvs-secrets-store-sync-controller", "namespace": "kube-system"]]])
            let report = await cluster.doctor().secretSync("db", namespace: "apps")
            #expect(report.checks.first { $0.id == "rbac.tokenRequest" }?.status == .ok, "\(report.text())")
            // The binding is in apps only: another namespace stays denied.
            try await cluster.create(Cluster.kinds.namespace, ["apiVersion": "v1", "kind": "Namespace", "metadata": Cluster.meta("other")])
            try await cluster.create(SecretSync.resourceKind, ["apiVersion": "secret-sync.x-k8s.io/v1alpha1", "kind": "SecretSync", "metadata": Cluster.meta("db", "other"),
                                                               "spec": ["secretProviderClassName": "vault", "serviceAccountName": "web",
                                                                        "secretObject": ["type": "Opaque", "data": [["sourcePath": "db", "targetKey": "password"]]]]])
            _ = failure(await cluster.doctor().secretSync("db", namespace: "other"), "rbac.tokenRequest")
        }
    }

    @Test func failingConditionAndMissingServiceAccount() async throws {
        try await Cluster.with { cluster in
            try await cluster.patch(SecretSync.resourceKind, "db", namespace: "apps",
                                    ["status": ["conditions": [["type": "Update", "status": "False", "reason": "ProviderError", "lastTransitionTime": "2026-12-01T10:00:00Z",
                                                                "message": "fetching secrets from the provider failed: AADSTS70021: No matching federated identity record found"]]]], status: true)
            try await cluster.delete(Cluster.kinds.serviceAccount, "web", namespace: "apps")
            let report = await cluster.doctor().secretSync("db", namespace: "apps")
            #expect(failure(report, "identity.serviceAccount")?.fix == "kubectl create serviceaccount web -n apps")
            #expect(failure(report, "conditions")?.fix?.contains("no federated credential") == true)
        }
    }

    @Test func servicePrincipalClassCannotServeASecretSync() async throws {
        try await Cluster.with { cluster in
            var parameters = cluster.spcParameters
            parameters["clientID"] = .null
            try await cluster.patch(SecretProviderClass.resourceKind, "vault", namespace: "apps", ["spec": ["parameters": .object(parameters)]])
            let check = failure(await cluster.doctor().secretSync("db", namespace: "apps"), "identity")
            #expect(check?.fix?.contains("set parameters.clientID in SecretProviderClass apps/vault") == true)
        }
    }

    @Test func staleLeaderLease() async throws {
        try await Cluster.with { cluster in
            try await cluster.patch(Cluster.kinds.lease, "29f1d54e.secret-sync.x-k8s.io", namespace: "kube-system",
                                    ["spec": ["renewTime": .string(APITime.string(Date().addingTimeInterval(-600)))]])
            let check = failure(await cluster.doctor().secretSync("db", namespace: "apps"), "controller.leader")
            #expect(check?.found.contains("the leader is gone") == true)
        }
    }
}

@Suite struct ClusterDoctorTests {
    @Test func installedClusterAndItsGaps() async throws {
        try await Cluster.with { cluster in
            var report = await cluster.doctor().cluster()
            // The baseline has no CRD objects and no admission policies.
            #expect(failure(report, "crd")?.subject == "CRD secretproviderclasses.secrets-store.csi.x-k8s.io")
            #expect(report.checks.first { $0.id == "admission" }?.status == .warning)
            #expect(report.checks.first { $0.id == "cluster.issuer" }?.found.contains(cluster.server.issuer.issuer) == true)
            #expect(report.checks.first { $0.id == "driver" }?.found.contains("enableSecretRotation=true, rotationPollInterval=2m, syncSecret.enabled=true, linux.kubeletRootDir=/var/lib/kubelet") == true)
            for (name, version) in [("secretproviderclasses.secrets-store.csi.x-k8s.io", "v1"), ("secretproviderclasspodstatuses.secrets-store.csi.x-k8s.io", "v1"),
                                    ("secretsyncs.secret-sync.x-k8s.io", "v1alpha1")] {
                let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
                try await cluster.create(Cluster.kinds.crd, ["apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": Cluster.meta(name),
                                                             "spec": ["group": .string(parts[1]), "scope": "Namespaced",
                                                                      "names": ["plural": .string(parts[0]), "kind": .string(parts[0]), "singular": .string(parts[0])],
                                                                      "versions": [["name": .string(version), "served": true, "storage": true, "schema": ["openAPIV3Schema": ["type": "object"]]]]]])
            }
            try await cluster.create(Cluster.kinds.node, ["apiVersion": "v1", "kind": "Node", "metadata": Cluster.meta("node-2")])
            report = await cluster.doctor().cluster()
            #expect(report.checks.filter { $0.id == "crd" }.allSatisfy { $0.status == .ok }, "\(report.text())")
            #expect(failure(report, "node.csiNode")?.subject == "node node-2")
        }
    }
}
