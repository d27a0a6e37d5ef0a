#if canImport(Glibc)
import Glibc
#endif
import CSIAPI
import CSIDriver
import Emulator
import EmulatorTestSupport
import Foundation
import GRPCCore
import Kubernetes
import Logging
import ProviderClient
import SecretsStoreAPI
import Testing

/// `akvs.io/serve-stale-on-outage`: a pod that starts while the vault cannot be reached gets the node's last good
/// content of the same class, identity and objects; never on 403/404, never content the node did not fetch.
@Suite(.enabled(if: isRoot, "mounts tmpfs: needs root"), .serialized) struct OutageTests {
    static let staleFor24h = ["akvs.io/serve-stale-on-outage": "24h"]

    func outage(_ h: CSIHarness, _ on: Bool) async throws {
        try await h.emulator.admin.setFaults(FaultSettings(outage: on), vault: "test-kv")
    }

    func rpcMessage(_ h: CSIHarness, _ request: Csi_V1_NodePublishVolumeRequest) async -> String? {
        do { try await h.publish(request) } catch let error as RPCError { return error.message } catch { return "\(error)" }
        return nil
    }

    @Test func aPodStartingDuringAnOutageGetsTheLastGoodContentUntilTheVaultAnswers() async throws {
        try await CSIHarness.with { h in
            try await h.createSPC(annotations: Self.staleFor24h)
            let first = h.publishRequest(pod: "web-0", uid: try await h.createPod("web-0"))
            try await h.publish(first)
            // The last good content: on a tmpfs (never disk), root only, named by a digest (no class or object name).
            let store = h.configuration.staleStoreDirectory
            #expect(Mounter.isTmpfs(store) && !Mounter.isTmpfs(h.directory.path))
            let entries = try FileManager.default.contentsOfDirectory(atPath: store)
            #expect(entries.count == 1 && entries.allSatisfy { $0.count == 64 && $0.allSatisfy(\.isHexDigit) }, "\(entries)")
            var st = stat()
            #expect(stat(store, &st) == 0 && st.st_mode & 0o777 == 0o700)
            #expect(stat(store + "/" + entries[0], &st) == 0 && st.st_mode & 0o777 == 0o600)
            try await outage(h, true)
            // A new pod of the same Deployment (same class, service account, credentials) during the outage.
            let second = h.publishRequest(pod: "web-1", uid: try await h.createPod("web-1"))
            try await h.publish(second)
            #expect(h.read(second.targetPath, "plain") == "plain-value-1")
            let status = try #require(await h.podStatus("web-1-apps-vault"))
            let note = try #require(status.metadata.annotations?["akvs.io/served-stale"])
            #expect(note.hasPrefix("content fetched ") && note.contains("Key Vault unreachable"), "\(note)")
            #expect(status.status?.objects?.map(\.id) == ["secret/plain"])
            try await h.eventually("a MountServedStale Warning on pod web-1") {
                await h.events(reason: "MountServedStale").contains { $0.regarding?.name == "web-1" && $0.type == "Warning" }
            }
            #expect(h.metrics.render().contains(#"akvs_mount_served_stale_total{namespace="apps",secret_provider_class="vault"} 1"#))

            // Still down: a republish keeps the stale files (and says nothing new); once the vault answers, the
            // next republish replaces them and the annotation goes.
            try await h.publish(second)
            #expect(h.read(second.targetPath, "plain") == "plain-value-1")
            try await outage(h, false)
            _ = try await h.vaultAdmin().setSecret("plain", value: "plain-value-2")
            try await h.publish(second)
            #expect(h.read(second.targetPath, "plain") == "plain-value-2")
            #expect(await h.podStatus("web-1-apps-vault")?.metadata.annotations?["akvs.io/served-stale"] == nil)
            try await h.eventually("MountRefreshedAfterOutage on pod web-1") {
                await h.events(reason: "MountRefreshedAfterOutage").contains { $0.regarding?.name == "web-1" }
            }
            // Rotation is off: the first pod, never stale, is not called again.
            #expect(h.read(first.targetPath, "plain") == "plain-value-1")
        }
    }

    @Test func withoutTheSettingAnOutageFailsTheMountQuicklyNamingTheCauseAndLeavesNothing() async throws {
        try await CSIHarness.with { h in
            try await h.createSPC()
            try await h.publish(h.publishRequest(pod: "web-0", uid: try await h.createPod("web-0")))
            try await outage(h, true)
            let second = h.publishRequest(pod: "web-1", uid: try await h.createPod("web-1"))
            let start = ContinuousClock.now
            let message = try #require(await rpcMessage(h, second))
            #expect(ContinuousClock.now - start < .seconds(30))
            #expect(message.contains("failed to mount objects, error: [Key Vault unreachable: 1]"), "\(message)")
            #expect(!h.isMounted(second.targetPath) && !FileManager.default.fileExists(atPath: second.targetPath))
            #expect(await h.podStatus("web-1-apps-vault") == nil)
        }
    }

    @Test func accessRevokedOrAnObjectDisabledIsNeverAnsweredWithStaleContent() async throws {
        try await CSIHarness.with { h in
            try await h.createSPC(annotations: Self.staleFor24h)
            try await h.publish(h.publishRequest(pod: "web-0", uid: try await h.createPod("web-0")))
            // Disabled in the vault (403 SecretDisabled): the object must not be used any more.
            let admin = try await h.vaultAdmin()
            let current = try await admin.getSecret("plain")
            let version = current.id?.split(separator: "/").last.map(String.init) ?? ""
            _ = try await admin.updateSecret("plain", version: version, enabled: false)
            let second = h.publishRequest(pod: "web-1", uid: try await h.createPod("web-1"))
            let disabled = try #require(await rpcMessage(h, second))
            #expect(disabled.contains("[disabled: 1]"), "\(disabled)")
            #expect(!h.isMounted(second.targetPath))
            // 403: the identity lost its access to the vault.
            _ = try await admin.updateSecret("plain", version: version, enabled: true)
            try await h.emulator.admin.addIdentity(IdentitySeed(name: "reader", clientId: EmulatorFixture.readerID, clientSecret: EmulatorFixture.readerSecret, access: [:]))
            let denied = try #require(await rpcMessage(h, second))
            #expect(denied.contains("[forbidden: 1]"), "\(denied)")
            #expect(!h.isMounted(second.targetPath))
            #expect(!h.metrics.render().contains("akvs_mount_served_stale_total{"))
        }
    }

    @Test func staleContentNeverCrossesIdentitiesClassVersionsOrTheLimit() async throws {
        // 6s: the refused mounts below each spend the vault client's retries (~1.2 s) before the limit is tested.
        try await CSIHarness.with(configure: { $0.serveStaleOnOutage = .seconds(6) }) { h in
            // The driver's default (--serve-stale-on-outage=6s) applies to a class that says nothing.
            try await h.createSPC()
            try await h.publish(h.publishRequest(pod: "web-0", uid: try await h.createPod("web-0")))
            let fetched = ContinuousClock.now
            try await outage(h, true)
            // Another identity (the outsider's credentials) never gets the reader's content.
            let outsider = h.publishRequest(pod: "web-1", uid: try await h.createPod("web-1"),
                                            secrets: ["clientid": EmulatorFixture.outsiderID, "clientsecret": EmulatorFixture.outsiderSecret])
            #expect(await rpcMessage(h, outsider)?.contains("Key Vault unreachable") == true)
            // The same identity does, within the limit.
            let same = h.publishRequest(pod: "web-2", uid: try await h.createPod("web-2"))
            try await h.publish(same)
            #expect(h.read(same.targetPath, "plain") == "plain-value-1")
            // An edited class (a new generation: other objects, say) never gets the old class's content.
            try await h.editSPC { $0.spec.parameters?["objects"] = CSIHarness.objectsParameter(["objectName: plain\nobjectType: secret\nobjectAlias: renamed"]) }
            let edited = h.publishRequest(pod: "web-3", uid: try await h.createPod("web-3"))
            #expect(await rpcMessage(h, edited)?.contains("Key Vault unreachable") == true)
            // Older than the limit: not served.
            try await h.editSPC { $0.spec.parameters?["objects"] = CSIHarness.objectsParameter(["objectName: plain\nobjectType: secret"]) }
            try await Task.sleep(until: fetched + .milliseconds(6300))
            let late = h.publishRequest(pod: "web-4", uid: try await h.createPod("web-4"))
            #expect(await rpcMessage(h, late)?.contains("Key Vault unreachable") == true)
        }
    }

    @Test func theLastGoodContentSurvivesADriverRestart() async throws {
        try await CSIHarness.with { h in
            try await h.createSPC(annotations: Self.staleFor24h)
            try await h.publish(h.publishRequest(pod: "web-0", uid: try await h.createPod("web-0")))
            try await outage(h, true)
            // A new driver process on the node (an upgrade during the outage): nothing in memory, the store on its tmpfs.
            var quiet = Logger(label: "akvs.csi.test.restarted")
            quiet.logLevel = .critical
            let restarted = NodePublisher(configuration: h.configuration, client: h.client,
                                          providers: ProviderClients(searchPaths: [h.providerDirectory.path], timeout: .seconds(20), logger: quiet),
                                          metrics: DriverMetrics(), logger: quiet)
            let watching = Task { await restarted.watch() }
            defer { watching.cancel() }
            let wire = h.publishRequest(pod: "web-1", uid: try await h.createPod("web-1"))
            try FileManager.default.createDirectory(atPath: (wire.targetPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try await restarted.publish(PublishRequest(volumeID: wire.volumeID, targetPath: wire.targetPath, volumeContext: wire.volumeContext, secrets: wire.secrets))
            #expect(h.read(wire.targetPath, "plain") == "plain-value-1")
            #expect(await h.podStatus("web-1-apps-vault")?.metadata.annotations?["akvs.io/served-stale"] != nil)
            try await restarted.unpublish(volumeID: wire.volumeID, targetPath: wire.targetPath)
        }
    }

    @Test func anInvalidLimitNamesTheKeyAndTheFix() async throws {
        try await CSIHarness.with { h in
            try await h.createSPC("typo", annotations: ["akvs.io/serve-stale-on-outage": "one day"])
            let bad = h.publishRequest(pod: "web-0", uid: try await h.createPod("web-0"), spc: "typo")
            let message = try #require(await rpcMessage(h, bad))
            #expect(message.contains("akvs.io/serve-stale-on-outage 'one day' is not a duration; use e.g. 24h"), "\(message)")
            #expect(!h.isMounted(bad.targetPath))
        }
    }
}
