import Foundation
import SecretsStoreAPI
import StructuredJSON
import Testing
import Yams

@Suite struct ResourceTypesTests {
    @Test func secretSyncDecodesTheUpstreamShape() throws {
        let yaml = """
        apiVersion: secret-sync.x-k8s.io/v1alpha1
        kind: SecretSync
        metadata: {name: db, namespace: apps}
        spec:
          serviceAccountName: web
          secretProviderClassName: vault
          forceSynchronization: "2026-01-01"
          secretObject:
            type: Opaque
            labels: {team: a}
            data:
              - {sourcePath: db-password, targetKey: password}
              - {sourcePath: cert/1, targetKey: previous}
        status:
          syncHash: v1:abcd
          lastSuccessfulSyncTime: "2026-01-01T00:00:00Z"
          conditions:
            - {type: Update, status: "True", lastTransitionTime: "2026-01-01T00:00:00Z", reason: UpdateNoValueChangeSucceeded, message: ok}
        """
        let sync = try YAMLDecoder().decode(SecretSync.self, from: yaml)
        #expect(sync.spec.secretObject.data.map(\.targetKey) == ["password", "previous"])
        #expect(sync.status?.conditions?.first?.reason == "UpdateNoValueChangeSucceeded")
        #expect(sync.key == "apps/db")
        // Encoding keeps upstream JSON field names.
        let json = try JSONValue(encoding: sync)
        #expect(json[path: ["spec", "secretObject", "data"]]?.arrayValue?.first?["sourcePath"] == "db-password")
        #expect(json[path: ["spec", "secretProviderClassName"]] == "vault")
        #expect(json["apiVersion"] == "secret-sync.x-k8s.io/v1alpha1")
    }

    @Test func podStatusAndAKVSyncFieldNames() throws {
        let status = SecretProviderClassPodStatus(
            metadata: ObjectMeta(name: "web-apps-vault", namespace: "apps", labels: [SecretProviderClassPodStatus.nodeNameLabel: "node-1"]),
            status: .init(podName: "web", secretProviderClassName: "vault", mounted: true, targetPath: "/var/lib/kubelet/pods/x/volumes/y/mount",
                          objects: [.init(id: "secret/db", version: "v1")]))
        let json = try JSONValue(encoding: status)
        #expect(json["kind"] == "SecretProviderClassPodStatus")
        #expect(json[path: ["status", "objects"]] == [["id": "secret/db", "version": "v1"]])
        #expect(json[path: ["metadata", "labels", "internal.secrets-store.csi.k8s.io/node-name"]] == "node-1")

        let akv = try YAMLDecoder().decode(AKVSync.self, from: """
        apiVersion: secret-sync.x-k8s.io/v1alpha1
        kind: AKVSync
        metadata: {name: sync, namespace: apps}
        spec:
          keyvaultName: kv1
          clientID: 55555555-5555-4555-8555-555555555555
          tenantID: 6f1b2c3d-0000-4000-8000-000000000001
          serviceAccountName: web
          objects:
            - {secretInAKV: db, versionHistory: 2}
            - {certInAKV: tls, kubernetesSecretType: kubernetes.io/tls}
            - kubernetesSecretName: compound
              mapping: [{dataKey: user, secretInAKV: u}, {dataKey: cert, certInAKV: c, version: 1}]
        """)
        #expect(akv.spec.objects.count == 3)
        #expect(akv.spec.objects[2].mapping?[1].version == 1)
        #expect(AKVSync.resourceKind.plural == "akvsyncs")
    }

    @Test func resourceKindsAndKeys() {
        #expect(SecretProviderClass.resourceKind.groupVersionPath == "/apis/secrets-store.csi.x-k8s.io/v1")
        #expect(SecretProviderClassPodStatus.resourceKind.plural == "secretproviderclasspodstatuses")
        #expect(SecretSync.resourceKind.apiVersion == "secret-sync.x-k8s.io/v1alpha1")
        #expect(ObjectKey(namespace: "", name: "x").description == "x")
        #expect(ObjectKey(namespace: "a", name: "x").description == "a/x")
    }

    @Test func mergePatchFollowsRFC7386() {
        let doc: JSONValue = ["a": "b", "c": ["d": "e", "f": "g"]]
        let patched = doc.mergePatched(with: ["a": "z", "c": ["f": .null]])
        #expect(patched == ["a": "z", "c": ["d": "e"]])
        #expect(doc.mergePatched(with: ["list": [1, 2]])["list"] == [1, 2])
    }
}
