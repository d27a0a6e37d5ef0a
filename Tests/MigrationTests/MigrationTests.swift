import Foundation
import Migration
import SecretsStoreAPI
import StructuredJSON
import Testing
import Yams

/// The stages on manifests (offline mode), as pure functions of a snapshot.
@Suite struct MigrationTests {
    static let clientID = "34343434-3434-4343-8343-343434343434"

    static func snapshot(_ yaml: String) throws -> ClusterSnapshot {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("akvs-migration-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try yaml.write(to: folder.appendingPathComponent("before.yaml"), atomically: true, encoding: .utf8)
        return try ClusterSnapshot.load(files: folder.path, namespace: nil)
    }

    static let before = """
    apiVersion: secrets-store.csi.x-k8s.io/v1
    kind: SecretProviderClass
    metadata: {name: vault, namespace: shop}
    spec:
      provider: azure
      parameters:
        keyvaultName: kv
        tenantId: 72f988bf-86f1-41af-91ab-2d7cd011db47
        usePodIdentity: "false"
        objects: |
          array:
            - |
              objectName: db
              objectType: secret
              objectAlias: "db password"
              filePermission: "0440"
            - |
              objectName: api
              objectType: secret
              objectVersionHistory: 2
            - |
              objectName: other
              objectType: secret
              objectAlias: api.0
    ---
    apiVersion: apps/v1
    kind: StatefulSet
    metadata: {name: db, namespace: shop}
    spec:
      selector: {matchLabels: {app: db}}
      template:
        metadata: {labels: {app: db}}
        spec:
          containers: [{name: app, image: busybox, volumeMounts: [{name: s, mountPath: /s}]}]
          volumes: [{name: s, csi: {driver: secrets-store.csi.k8s.io, volumeAttributes: {secretProviderClass: vault}, nodePublishSecretRef: {name: creds}}}]
    """

    func translation(_ snapshot: ClusterSnapshot, clientID: String? = MigrationTests.clientID) -> Translation {
        var options = Translation.Options()
        options.clientID = clientID
        return Translation(snapshot: snapshot, inventory: Inventory.build(snapshot), options: options)
    }

    @Test func fileLayoutKeysAreValidAndUnique() throws {
        let snapshot = try Self.snapshot(Self.before)
        let layout = try FileLayout.of(snapshot.classes[0])
        #expect(layout.files.map(\.path) == ["db password", "api/0", "api/1", "api.0"])
        // `/` becomes `.`, a space `-`; the collision of api/0 with the alias api.0 gets a suffix.
        #expect(layout.files.map(\.key) == ["db-password", "api.0", "api.1", "api.0-2"])
        #expect(layout.files.map(\.mode) == ["0440", nil, nil, nil])
    }

    @Test func translateMovesTheClassAndKeepsObjects() throws {
        let snapshot = try Self.snapshot(Self.before)
        let changes = translation(snapshot).changes()
        let spc = try #require(changes.first { $0.subject == "SecretProviderClass/vault" })
        #expect(spc.operation == .update)
        #expect(spc.object?[path: ["spec", "parameters", "clientID"]]?.stringValue == Self.clientID)
        #expect(spc.object?[path: ["spec", "parameters", "usePodIdentity"]] == nil)
        #expect(spc.object?[path: ["spec", "parameters", "objects"]] == snapshot.classes[0][path: ["spec", "parameters", "objects"]])
        let sync = try #require(changes.first { $0.subject == "SecretSync/vault-files" }?.object)
        #expect(sync[path: ["spec", "serviceAccountName"]]?.stringValue == "akvs-sync")
        #expect(sync[path: ["spec", "secretObject", "data"]]?.arrayValue?.compactMap { $0["targetKey"]?.stringValue } == ["db-password", "api.0", "api.1", "api.0-2"])
    }

    @Test func missingClientIDIsABlockerNamingTheFlags() throws {
        let changes = translation(try Self.snapshot(Self.before), clientID: nil).changes()
        #expect(changes.contains { $0.operation == .blocked && $0.detail.contains("pass --client-id ID or --client-id-map FILE with a line 'shop: <client ID>'") })
    }

    @Test func workloadVolumeMapsKeysBackToPathsAndModes() throws {
        let snapshot = try Self.snapshot(Self.before)
        let changes = WorkloadRewrite(translation: translation(snapshot), recreateBarePods: false, now: Date(timeIntervalSince1970: 0)).changes()
        let rewritten = try #require(changes.first { $0.subject == "StatefulSet/db" && $0.operation == .update }?.object)
        let volume = try #require(rewritten[path: ["spec", "template", "spec", "volumes"]]?.arrayValue?.first)
        #expect(volume["csi"] == nil)
        #expect(volume[path: ["secret", "secretName"]]?.stringValue == "vault-files")
        let items = volume[path: ["secret", "items"]]?.arrayValue ?? []
        #expect(items.map { $0["path"]?.stringValue ?? "" } == ["db password", "api/0", "api/1", "api.0"])
        #expect(items.first?["mode"]?.numberValue == 0o440)
        #expect(rewritten[path: ["spec", "template", "metadata", "annotations", "kubectl.kubernetes.io/restartedAt"]]?.stringValue == "1970-01-01T00:00:00Z")
    }

    /// Applying translate's and workloads' objects to the snapshot, then running them again, changes nothing.
    @Test func secondRunChangesNothing() throws {
        var snapshot = try Self.snapshot(Self.before)
        let first = translation(snapshot).changes() + WorkloadRewrite(translation: translation(snapshot), recreateBarePods: false).changes()
        var manifests: [JSONValue] = snapshot.classes.filter { c in !first.contains { $0.subject == "SecretProviderClass/\(c[path: ["metadata", "name"]]?.stringValue ?? "")" } }
        manifests += first.compactMap(\.object)
        snapshot = try Self.snapshot(manifests.map { YAMLConversion.yaml($0) }.joined(separator: "---\n"))
        let second = translation(snapshot).changes() + WorkloadRewrite(translation: translation(snapshot), recreateBarePods: false).changes()
        #expect(second.allSatisfy { [.unchanged, .note].contains($0.operation) }, "\(second.map { "\($0.subject) \($0.operation) \($0.detail)" })")
    }

    @Test func secretValuesNeverEnterTheSnapshot() throws {
        let snapshot = try Self.snapshot("""
        apiVersion: v1
        kind: Secret
        metadata: {name: creds, namespace: shop}
        stringData: {clientid: 11111111-2222-4333-8444-555555555555, clientsecret: top-secret-canary}
        """)
        let text = String(decoding: snapshot.secrets[0].encoded(), as: UTF8.self)
        #expect(!text.contains("top-secret-canary"))
        #expect(text.contains(Data("11111111-2222-4333-8444-555555555555".utf8).base64EncodedString()))
    }
}
