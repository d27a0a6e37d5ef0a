import CSIAPI
import CSIDriver
import EmulatorTestSupport
import Foundation
import GRPCCore
import Kubernetes
import SecretsStoreAPI
import Testing

@Suite(.enabled(if: isRoot, "mounts tmpfs: needs root"), .serialized) struct RotationTests {
    @Test func republishAfterTheIntervalRotatesFilesStatusAndSecrets() async throws {
        // 2 s: long enough that two publishes in a row stay inside it on a loaded machine.
        try await CSIHarness.with(rotation: true, interval: .seconds(2)) { h in
            try await h.createSPC(secretObjects: [.init(secretName: "db", type: "Opaque", data: [.init(objectName: "plain", key: "password")])])
            let uid = try await h.createPod("web-0")
            let request = h.publishRequest(pod: "web-0", uid: uid)
            try await h.publish(request)
            let v1 = try #require(await h.podStatus("web-0-apps-vault")?.status?.objects?.first?.version)
            let updated = try await h.vaultAdmin().setSecret("plain", value: "plain-value-2")
            // Inside the interval a republish calls nothing.
            let gets = try await h.gets("secrets/plain")
            try await h.publish(request)
            #expect(try await h.gets("secrets/plain") == gets)
            #expect(h.read(request.targetPath, "plain") == "plain-value-1")
            try await Task.sleep(for: .milliseconds(2100))
            try await h.publish(request)
            #expect(h.read(request.targetPath, "plain") == "plain-value-2")
            let v2 = await h.podStatus("web-0-apps-vault")?.status?.objects?.first?.version
            #expect(v2 != v1 && v2 == updated.id?.split(separator: "/").last.map(String.init))
            #expect(await h.secret("db")?.data?["password"] == Data("plain-value-2".utf8))
            try await h.eventually("rotation events") {
                let mounts = await h.events(reason: "MountRotationComplete"), secrets = await h.events(reason: "SecretRotationComplete")
                return !mounts.isEmpty && !secrets.isEmpty
            }
            // Nothing changed since: a republish past the interval writes nothing.
            try await Task.sleep(for: .milliseconds(2100))
            let rv = await h.secret("db")?.metadata.resourceVersion
            try await h.publish(request)
            #expect(await h.secret("db")?.metadata.resourceVersion == rv)
            let text = h.metrics.render()
            #expect(text.contains(#"rotation_reconcile_total{os_type="linux",provider="azure",rotated="true"} 1"#))
            #expect(text.contains(#"rotation_reconcile_total{os_type="linux",provider="azure",rotated="false"} 1"#))
            #expect(text.contains("rotation_reconcile_duration_sec_bucket"))
        }
    }

    @Test func aReaderNeverSeesMixedOrPartialContentDuringRotation() async throws {
        try await CSIHarness.with(rotation: true, interval: .milliseconds(1)) { h in
            try await h.createSPC(objects: ["objectName: plain\nobjectType: secret", "objectName: rotating\nobjectType: secret"])
            let uid = try await h.createPod("web-0")
            let request = h.publishRequest(pod: "web-0", uid: uid)
            let admin = try await h.vaultAdmin()
            let value = { (i: Int) in String(repeating: String(UnicodeScalar(UInt8(65 + i % 26))), count: 8192) }
            _ = try await admin.setSecret("plain", value: value(0))
            _ = try await admin.setSecret("rotating", value: value(0))
            try await h.publish(request)
            let target = request.targetPath
            let stop = ManagedFlag()
            let reader = Task.detached { () -> (reads: Int, bad: Int) in
                var reads = 0, bad = 0
                while !stop.isSet {
                    // Both files through one `..data` resolution: a reader that opens the folder sees one generation.
                    guard let data = try? String(contentsOfFile: "\(target)/..data/plain", encoding: .utf8) else { continue }
                    reads += 1
                    if data.count != 8192 || Set(data).count != 1 { bad += 1 }
                }
                return (reads, bad)
            }
            for i in 1...15 {
                _ = try await admin.setSecret("plain", value: value(i))
                _ = try await admin.setSecret("rotating", value: value(i))
                try await Task.sleep(for: .milliseconds(5))
                try await h.publish(request)
                #expect(h.read(target, "plain") == value(i) && h.read(target, "rotating") == value(i))
            }
            stop.set()
            let result = await reader.value
            #expect(result.reads > 0 && result.bad == 0)
            // Old generations are removed: one timestamped folder remains.
            let generations = try FileManager.default.contentsOfDirectory(atPath: target).filter { $0.hasPrefix("..") && $0 != "..data" }
            #expect(generations.count == 1)
        }
    }

    @Test func volumesSharingObjectsCostOneGetPerObjectPerInterval() async throws {
        // The provider's cache outlives the interval; the driver's rotations still never take a result older than it.
        try await CSIHarness.with(rotation: true, interval: .seconds(3), cacheTTL: .seconds(60)) { h in
            try await h.createSPC(objects: ["objectName: plain\nobjectType: secret", "objectName: rotating\nobjectType: secret"])
            var requests: [Csi_V1_NodePublishVolumeRequest] = []
            for i in 0..<20 {
                let uid = try await h.createPod("p\(i)")
                requests.append(h.publishRequest(pod: "p\(i)", uid: uid))
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for r in requests { group.addTask { try await h.publish(r) } }
                try await group.waitForAll()
            }
            #expect(try await h.gets("secrets/plain") == 1)
            // One interval later all 20 republish at once: the results are too old for a rotation, one GET per object again.
            try await Task.sleep(for: .milliseconds(3100))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for r in requests { group.addTask { try await h.publish(r) } }
                try await group.waitForAll()
            }
            #expect(try await h.gets("secrets/plain") == 2)
            #expect(try await h.gets("secrets/rotating") == 2)
            #expect(h.metrics.render().contains(#"rotation_reconcile_total{os_type="linux",provider="azure",rotated="false"} 20"#))
        }
    }
}

/// A flag set by one task and read by another.
final class ManagedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
