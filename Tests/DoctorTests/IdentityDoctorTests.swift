import Doctor
import EmulatorTestSupport
import Foundation
import SecretsStoreAPI
import StructuredJSON
import Testing

/// Service-principal credentials and the probes that tell identity and vault failures apart.
@Suite struct IdentityDoctorTests {
    /// Turns the pod `web` into a service-principal pod whose nodePublishSecretRef names `creds`.
    func useServicePrincipal(_ cluster: Cluster) async throws {
        var parameters = cluster.spcParameters
        parameters["clientID"] = .null
        try await cluster.patch(SecretProviderClass.resourceKind, "vault", namespace: "apps", ["spec": ["parameters": .object(parameters)]])
        try await cluster.delete(Cluster.kinds.pod, "web", namespace: "apps")
        try await cluster.create(Cluster.kinds.pod, ["apiVersion": "v1", "kind": "Pod", "metadata": Cluster.meta("web", "apps"),
                                                     "spec": ["nodeName": "node-1", "serviceAccountName": "web", "containers": [["name": "app", "image": "busybox"]],
                                                              "volumes": [["name": "secrets", "csi": ["driver": "secrets-store.csi.k8s.io", "nodePublishSecretRef": ["name": "creds"],
                                                                                                      "volumeAttributes": ["secretProviderClass": "vault"]]]]]],
                                 status: ["phase": "Running"])
    }

    func credentials(_ cluster: Cluster, labelled: Bool = true, secret: String = EmulatorFixture.readerSecret) async throws {
        try await cluster.create(Cluster.kinds.secret, ["apiVersion": "v1", "kind": "Secret",
                                                        "metadata": Cluster.meta("creds", "apps", labels: labelled ? ["secrets-store.csi.k8s.io/used": "true"] : [:]),
                                                        "data": ["clientid": .string(Data(EmulatorFixture.readerID.utf8).base64EncodedString()),
                                                                 "clientsecret": .string(Data(secret.utf8).base64EncodedString())]])
    }

    @Test func healthyServicePrincipalPod() async throws {
        try await Cluster.with { cluster in
            try await useServicePrincipal(cluster)
            try await credentials(cluster)
            let report = await cluster.doctor(probe: true).pod("web", namespace: "apps")
            expectHealthy(report)
            #expect(report.checks.first { $0.id == "identity.credentials" }?.found.contains("service principal \(EmulatorFixture.readerID), clientsecret present") == true)
            expectNoValues(report)
        }
    }

    @Test func missingCredentialsSecret() async throws {
        try await Cluster.with { cluster in
            try await useServicePrincipal(cluster)
            let check = failure(await cluster.doctor().pod("web", namespace: "apps"), "identity.credentials")
            #expect(check?.found == "not found (nodePublishSecretRef names it)")
            #expect(check?.fix?.contains("kubectl create secret generic creds -n apps --from-literal clientid=<app id> --from-literal clientsecret=<secret>") == true)
        }
    }

    @Test func unlabeledCredentialsSecret() async throws {
        try await Cluster.with { cluster in
            try await useServicePrincipal(cluster)
            try await credentials(cluster, labelled: false)
            let check = failure(await cluster.doctor().pod("web", namespace: "apps"), "identity.credentials")
            #expect(check?.fix == "kubectl label secret creds -n apps secrets-store.csi.k8s.io/used=true")
        }
    }

    @Test func wrongClientSecretIsToldByItsEntraCode() async throws {
        try await Cluster.with { cluster in
            try await useServicePrincipal(cluster)
            try await credentials(cluster, secret: "not-the-secret")
            let report = await cluster.doctor(probe: true).pod("web", namespace: "apps")
            let check = report.checks.first { $0.subject.hasPrefix("probe: token") }
            #expect(check?.status == .failure && check?.found.hasPrefix("wrong client secret") == true, "\(report.text())")
            #expect(!report.text().contains("not-the-secret"))
        }
    }

    @Test func wrongTenant() async throws {
        try await Cluster.with { cluster in
            var parameters = cluster.spcParameters
            parameters["tenantId"] = "00000000-0000-4000-8000-00000000dead"
            try await cluster.patch(SecretProviderClass.resourceKind, "vault", namespace: "apps", ["spec": ["parameters": .object(parameters)]])
            let check = failure(await cluster.doctor(probe: true).pod("web", namespace: "apps"), "probe.tenant")
            #expect(check?.found.contains("AADSTS90002") == true)
            #expect(check?.fix?.contains("az keyvault show --name doc-kv --query properties.tenantId") == true)
        }
    }

    @Test func unfederatedServiceAccount() async throws {
        try await Cluster.with { cluster in
            try await cluster.create(Cluster.kinds.serviceAccount, ["apiVersion": "v1", "kind": "ServiceAccount", "metadata": Cluster.meta("lonely", "apps")])
            try await cluster.create(Cluster.kinds.pod, ["apiVersion": "v1", "kind": "Pod", "metadata": Cluster.meta("lonely", "apps"),
                                                         "spec": ["nodeName": "node-1", "serviceAccountName": "lonely", "containers": [["name": "app", "image": "busybox"]],
                                                                  "volumes": [["name": "s", "csi": ["driver": "secrets-store.csi.k8s.io", "volumeAttributes": ["secretProviderClass": "vault"]]]]]])
            let report = await cluster.doctor(probe: true).pod("lonely", namespace: "apps")
            keepSample(report, "pod-unfederated")
            let check = failure(report, "identity.federation")
            #expect(check?.found.contains("AADSTS70021") == true)
            #expect(check?.fix?.contains("az identity federated-credential create") == true)
            #expect(check?.fix?.contains("--subject system:serviceaccount:apps:lonely --audience api://AzureADTokenExchange") == true)
        }
    }

    @Test func identityWithoutAccess() async throws {
        try await Cluster.with { cluster in
            var parameters = cluster.spcParameters
            parameters["clientID"] = .string(Cluster.strangerID)
            try await cluster.patch(SecretProviderClass.resourceKind, "vault", namespace: "apps", ["spec": ["parameters": .object(parameters)]])
            let report = await cluster.doctor(probe: true).pod("web", namespace: "apps")
            let check = failure(report, "probe.access")
            #expect(check?.found.hasPrefix("no access") == true)
            #expect(check?.fix == "az role assignment create --role \"Key Vault Secrets User\" --assignee \(Cluster.strangerID) --scope \"$(az keyvault show --name doc-kv --query id -o tsv)\"")
        }
    }

    @Test func disabledAndMissingObjects() async throws {
        try await Cluster.with { cluster in
            var parameters = cluster.spcParameters
            parameters["objects"] = "array:\n  - |\n    objectName: off\n    objectType: secret\n  - |\n    objectName: gone\n    objectType: secret\n"
            try await cluster.patch(SecretProviderClass.resourceKind, "vault", namespace: "apps", ["spec": ["parameters": .object(parameters)]])
            let report = await cluster.doctor(probe: true).pod("web", namespace: "apps")
            let lines = report.checks.filter { $0.id == "probe.object" }
            let off = lines.first { $0.subject == "vault doc-kv secret/off" }
            let gone = lines.first { $0.subject == "vault doc-kv secret/gone" }
            #expect(off?.status == .failure && off?.found.hasPrefix("disabled") == true, "\(report.text())")
            #expect(off?.fix == "enable it: az keyvault secret set-attributes --vault-name doc-kv --name off --enabled true")
            #expect(gone?.status == .failure && gone?.found.hasPrefix("missing") == true, "\(report.text())")
            expectNoValues(report)
        }
    }
}
