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
import SecretsStoreAPI
import Testing

@Suite(.enabled(if: isRoot, "mounts tmpfs: needs root"), .serialized) struct PublishTests {
    @Test func identityAndNodeInfo() async throws {
        try await CSIHarness.with { h in
            let info = try await h.identity.getPluginInfo(Csi_V1_GetPluginInfoRequest())
            #expect(info.name == "secrets-store.csi.k8s.io" && info.vendorVersion == "0.1.0-test")
            // The Controller service is advertised and served, with no capabilities; its other RPCs are UNIMPLEMENTED.
            let capabilities = try await h.identity.getPluginCapabilities(Csi_V1_GetPluginCapabilitiesRequest()).capabilities
            #expect(capabilities.map(\.service.type) == [.controllerService])
            #expect(try await h.controller.controllerGetCapabilities(Csi_V1_ControllerGetCapabilitiesRequest()).capabilities.map(\.rpc.type) == [.unknown])
            do {
                _ = try await h.controller.createVolume(Csi_V1_CreateVolumeRequest())
                Issue.record("CreateVolume succeeded")
            } catch let error as RPCError {
                #expect(error.code == .unimplemented)
            }
            #expect(try await h.identity.probe(Csi_V1_ProbeRequest()).ready.value)
            #expect(try await h.node.nodeGetInfo(Csi_V1_NodeGetInfoRequest()).nodeID == CSIHarness.nodeID)
            #expect(try await h.node.nodeGetCapabilities(Csi_V1_NodeGetCapabilitiesRequest()).capabilities.map(\.rpc.type) == [.stageUnstageVolume])
            #expect(await CSIProbe.ready(socketPath: h.csiSocket))
            await #expect(throws: RPCError.self) { _ = try await h.node.nodeGetVolumeStats(Csi_V1_NodeGetVolumeStatsRequest()) }
        }
    }

    @Test func publishWritesFilesRecordsStatusAndUnpublishCleansUp() async throws {
        try await CSIHarness.with { h in
            try await h.createSPC(objects: ["objectName: plain\nobjectType: secret", "objectName: rotating\nobjectType: secret\nobjectAlias: current\nfilePermission: \"0600\"",
                                            "objectName: tls-pem\nobjectType: secret"])
            let uid = try await h.createPod("web-0")
            let request = h.publishRequest(pod: "web-0", uid: uid)
            try await h.publish(request)
            let target = request.targetPath
            #expect(h.isMounted(target))
            #expect(h.read(target, "plain") == "plain-value-1")
            #expect(h.read(target, "current") == "r3")
            #expect(h.read(target, "tls-pem")?.contains("BEGIN CERTIFICATE") == true)
            var st = stat()
            #expect(stat(target + "/current", &st) == 0 && (st.st_mode & 0o777) == 0o600)
            #expect(lstat(target + "/..data", &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK)

            let status = try #require(await h.podStatus("web-0-apps-vault"))
            #expect(status.metadata.labels?[SecretProviderClassPodStatus.nodeNameLabel] == CSIHarness.nodeID)
            #expect(status.metadata.ownerReferences?.first?.kind == "Pod" && status.metadata.ownerReferences?.first?.uid == uid)
            #expect(status.status?.mounted == true && status.status?.targetPath == target && status.status?.secretProviderClassName == "vault")
            #expect(status.status?.objects?.map(\.id) == ["secret/plain", "secret/rotating", "secret/tls-pem"])

            // Idempotent: a second publish of a mounted volume (rotation off) calls nothing.
            let before = try await h.gets("secrets/plain")
            try await h.publish(request)
            #expect(try await h.gets("secrets/plain") == before)

            try await h.unpublish(target)
            #expect(!h.isMounted(target) && !FileManager.default.fileExists(atPath: target))
            #expect(await h.podStatus("web-0-apps-vault") == nil)
            // Idempotent unpublish.
            try await h.unpublish(target)
            let text = h.metrics.render()
            #expect(text.contains(#"node_publish_total{os_type="linux",provider="azure"} 1"#))
            #expect(text.contains(#"node_unpublish_total{os_type="linux"} 2"#))
            #expect(!text.contains("plain-value-1"))
        }
    }

    @Test func badRequestsAreRefusedWithClearMessages() async throws {
        try await CSIHarness.with { h in
            try await h.createSPC()
            let uid = try await h.createPod("web-0")
            func failure(_ change: (inout Csi_V1_NodePublishVolumeRequest) -> Void) async -> RPCError? {
                var r = h.publishRequest(pod: "web-0", uid: uid)
                change(&r)
                do { try await h.publish(r); return nil } catch let e as RPCError { return e } catch { return nil }
            }
            let noCapability = await failure { $0.clearVolumeCapability() }
            #expect(noCapability?.code == .invalidArgument && noCapability?.message == "Volume capability missing in request")
            #expect(await failure { $0.volumeID = "" }?.message == "Volume ID missing in request")
            #expect(await failure { $0.targetPath = "" }?.message == "Target path missing in request")
            #expect(await failure { $0.targetPath = "relative/mount" }?.code == .invalidArgument)
            #expect(await failure { $0.targetPath = h.directory.path + "/pods/../../etc/mount" }?.message.contains("'..'") == true)
            #expect(await failure { $0.volumeContext = [:] }?.message == "Volume attributes missing in request")
            #expect(await failure { $0.volumeContext["secretProviderClass"] = nil }?.message.contains("secretProviderClass is not set") == true)
            #expect(await failure { $0.volumeContext["csi.storage.k8s.io/pod.uid"] = nil }?.message.contains("podInfoOnMount") == true)
            let readonly = await failure { $0.readonly = false }
            #expect(readonly?.code == .invalidArgument && readonly?.message.contains("Readonly is not true in request") == true)
            #expect(!h.isMounted(h.target("web-0")) && !FileManager.default.fileExists(atPath: h.target("web-0")))
            #expect(h.metrics.render().contains("node_publish_error_total"))
        }
    }

    @Test func missingSPCAndSPCInAnotherNamespace() async throws {
        try await CSIHarness.with { h in
            try await h.createSPC("vault", namespace: "other")
            let uid = try await h.createPod("web-0")
            do {
                try await h.publish(h.publishRequest(pod: "web-0", uid: uid))
                Issue.record("a SecretProviderClass of another namespace must not be used")
            } catch let e as RPCError {
                #expect(e.code == .notFound)
                #expect(e.message.contains("failed to get secretproviderclass apps/vault") && e.message.contains("namespace apps"))
            }
            #expect(!FileManager.default.fileExists(atPath: h.target("web-0")))
            #expect(h.metrics.render().contains(#"error_type="SecretProviderClassNotFound""#))
        }
    }

    @Test func providerDownFailsCleanlyAndRecovers() async throws {
        try await CSIHarness.with(startProvider: false) { h in
            try await h.createSPC()
            let uid = try await h.createPod("web-0")
            let request = h.publishRequest(pod: "web-0", uid: uid)
            do {
                try await h.publish(request)
                Issue.record("publish must fail without a provider")
            } catch let e as RPCError {
                #expect(e.code == .unavailable && e.message.contains("provider 'azure' is not running on this node"))
            }
            #expect(!h.isMounted(request.targetPath) && !FileManager.default.fileExists(atPath: request.targetPath))
            // A stale socket (provider crashed): the call fails in seconds, nothing is left mounted.
            let stale = h.providerDirectory.appendingPathComponent("azure.sock").path
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &addr.sun_path) { buf in _ = stale.withCString { strncpy(buf.baseAddress!.assumingMemoryBound(to: CChar.self), $0, buf.count - 1) } }
            _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
            close(fd)
            await #expect(throws: RPCError.self) { try await h.publish(request) }
            #expect(!h.isMounted(request.targetPath))
            // The provider comes up: kubelet's retry succeeds.
            unlink(stale)
            var quiet = Logger(label: "t"); quiet.logLevel = .critical
            let provider = try await CSIHarness.startAzureProvider(h.emulator, socket: stale, cacheTTL: .milliseconds(1), logger: quiet)
            defer { provider.cancel() }
            try await h.publish(request)
            #expect(h.read(request.targetPath, "plain") == "plain-value-1")
            try await h.unpublish(request.targetPath)
        }
    }

    @Test func vaultOutageFailsFirstMountAndKeepsMountedContent() async throws {
        try await CSIHarness.with(rotation: true, interval: .milliseconds(1)) { h in
            try await h.createSPC()
            let a = try await h.createPod("a")
            let b = try await h.createPod("b")
            let mountedA = h.publishRequest(pod: "a", uid: a)
            try await h.publish(mountedA)
            try await h.emulator.admin.setFaults(FaultSettings(outage: true), vault: "test-kv")
            // First mount during the outage: error, nothing mounted.
            let newB = h.publishRequest(pod: "b", uid: b)
            do { try await h.publish(newB); Issue.record("must fail during an outage") } catch let e as RPCError {
                #expect(e.code == .internalError && e.message.contains("plain"))
                #expect(!e.message.contains("plain-value-1"))
            }
            #expect(!h.isMounted(newB.targetPath))
            // Republish during the outage: success reported, old content kept, error counted and raised as an event.
            try await Task.sleep(for: .milliseconds(20))
            try await h.publish(mountedA)
            #expect(h.read(mountedA.targetPath, "plain") == "plain-value-1")
            #expect(h.metrics.render().contains("rotation_reconcile_error_total"))
            try await h.eventually("MountRotationFailed event") { await !h.events(reason: "MountRotationFailed").isEmpty }
            // Recovery: the next republish converges, the new mount works.
            try await h.emulator.admin.setFaults(FaultSettings(), vault: "test-kv")
            _ = try await h.vaultAdmin().setSecret("plain", value: "plain-value-2")
            try await Task.sleep(for: .milliseconds(20))
            try await h.publish(mountedA)
            #expect(h.read(mountedA.targetPath, "plain") == "plain-value-2")
            try await h.publish(newB)
            #expect(h.read(newB.targetPath, "plain") == "plain-value-2")
        }
    }

    @Test func traversalInAliasIsRefusedAndNothingIsWritten() async throws {
        try await CSIHarness.with { h in
            try await h.createSPC(objects: ["objectName: plain\nobjectType: secret\nobjectAlias: ../../escape"])
            let uid = try await h.createPod("web-0")
            let request = h.publishRequest(pod: "web-0", uid: uid)
            do { try await h.publish(request); Issue.record("an alias with .. must be refused") } catch let e as RPCError {
                #expect(e.message.contains("..") && e.message.contains("objectAlias"))
            }
            #expect(!h.isMounted(request.targetPath))
            let escaped = (request.targetPath as NSString).deletingLastPathComponent + "/../escape"
            #expect(!FileManager.default.fileExists(atPath: escaped))
        }
    }
}

@Suite(.enabled(if: isRoot, "mounts tmpfs: needs root"), .serialized) struct WorkloadIdentityTests {
    /// kubelet passes the pod's service-account token in the volume context, or (serviceAccountTokenInSecrets) in the secrets.
    @Test(arguments: [false, true]) func serviceAccountTokenReachesTheProvider(inSecrets: Bool) async throws {
        try await CSIHarness.with { h in
            var spc = try await h.createSPC()
            spc.spec.parameters?["clientID"] = EmulatorFixture.readerID
            _ = try await h.client.update(spc)
            let uid = try await h.createPod("web-0")
            let token = try await h.emulator.admin.issuerToken(subject: EmulatorFixture.workloadSubject)
            let tokens = #"{"api://AzureADTokenExchange":{"token":"\#(token)","expirationTimestamp":"2030-01-01T00:00:00Z"}}"#
            var request = h.publishRequest(pod: "web-0", uid: uid, secrets: inSecrets ? ["csi.storage.k8s.io/serviceAccount.tokens": tokens] : [:])
            // With kubelet's tokens in the secrets, a same-named volume attribute (the pod's author could set one) loses.
            request.volumeContext["csi.storage.k8s.io/serviceAccount.tokens"] = inSecrets ? #"{"api://AzureADTokenExchange":{"token":"forged","expirationTimestamp":"2030-01-01T00:00:00Z"}}"# : tokens
            try await h.publish(request)
            #expect(h.read(request.targetPath, "plain") == "plain-value-1")
            try await h.unpublish(request.targetPath)
        }
    }
}
