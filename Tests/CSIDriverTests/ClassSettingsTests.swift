import CSIAPI
import CSIDriver
import EmulatorTestSupport
import Foundation
import GRPCCore
import Kubernetes
import SecretsStoreAPI
import Testing

/// Optional objects, a class's own rotation interval, and refresh on demand (`akvs.io/refresh-requested-at` on the
/// class or the pod), driven by republishes as kubelet sends them.
@Suite(.enabled(if: isRoot, "mounts tmpfs: needs root"), .serialized) struct ClassSettingsTests {
    @Test func optionalObjectsThatAreMissingOrDisabledLetThePodStartAndAppearWhenCreated() async throws {
        try await CSIHarness.with(rotation: true, interval: .milliseconds(300)) { h in
            try await h.createSPC(objects: ["objectName: plain\nobjectType: secret",
                                            "objectName: feature-flags\nobjectType: secret\noptional: true",
                                            "objectName: disabled\nobjectType: secret\noptional: \"true\""],
                                  secretObjects: [.init(secretName: "db", type: "Opaque", data: [.init(objectName: "plain", key: "password")]),
                                                  .init(secretName: "flags", type: "Opaque", data: [.init(objectName: "feature-flags", key: "flags")])])
            let request = h.publishRequest(pod: "web-0", uid: try await h.createPod("web-0"))
            try await h.publish(request)
            #expect(h.read(request.targetPath, "plain") == "plain-value-1")
            #expect(h.read(request.targetPath, "feature-flags") == nil && h.read(request.targetPath, "disabled") == nil)
            let status = try #require(await h.podStatus("web-0-apps-vault"))
            #expect(status.metadata.annotations?["akvs.io/missing-optional-objects"] == "secret/feature-flags, secret/disabled")
            #expect(status.status?.objects?.map(\.id) == ["secret/plain"])
            try await h.eventually("an OptionalObjectMissing Warning naming both") {
                await h.events(reason: "OptionalObjectMissing").contains { ($0.note ?? "").contains("secret/feature-flags, secret/disabled") }
            }
            // The Secret that needs the missing object is neither written nor a failure; the other one is.
            let db = await h.secret("db"), flags = await h.secret("flags")
            #expect(db != nil && flags == nil)
            #expect(await h.events(reason: "FailedToCreateSecret").isEmpty)

            // The object appears: the next rotation writes its file, syncs its Secret, and the annotation shrinks.
            _ = try await h.vaultAdmin().setSecret("feature-flags", value: "dark-mode=on")
            try await Task.sleep(for: .milliseconds(350))
            try await h.publish(request)
            #expect(h.read(request.targetPath, "feature-flags") == "dark-mode=on")
            #expect(await h.podStatus("web-0-apps-vault")?.metadata.annotations?["akvs.io/missing-optional-objects"] == "secret/disabled")
            #expect(await h.secret("flags")?.data?["flags"] == Data("dark-mode=on".utf8))

            // Without optional, a missing object still fails the mount as upstream does.
            try await h.createSPC("strict", objects: ["objectName: plain\nobjectType: secret", "objectName: absent\nobjectType: secret"])
            let strict = h.publishRequest(pod: "web-1", uid: try await h.createPod("web-1"), spc: "strict")
            await #expect { try await h.publish(strict) } throws: { ($0 as? RPCError)?.message.contains("[not found: 1]") == true }
        }
    }

    @Test func aClassRotatesAtItsOwnIntervalWithoutTheDriverWide() async throws {
        try await CSIHarness.with { h in
            // Driver rotation off; the class asks for 2s (long enough that a loaded machine stays inside it below).
            try await h.createSPC("fast", annotations: ["akvs.io/rotation-poll-interval": "2s"])
            try await h.createSPC("slow")
            let fast = h.publishRequest(pod: "a", uid: try await h.createPod("a"), spc: "fast")
            let slow = h.publishRequest(pod: "b", uid: try await h.createPod("b"), spc: "slow")
            try await h.publish(fast)
            let published = ContinuousClock.now
            try await h.publish(slow)
            _ = try await h.vaultAdmin().setSecret("plain", value: "plain-value-2")
            try await h.publish(fast)
            #expect(h.read(fast.targetPath, "plain") == "plain-value-1")  // inside its interval
            try await Task.sleep(until: published + .milliseconds(2100))
            try await h.publish(fast)
            try await h.publish(slow)
            #expect(h.read(fast.targetPath, "plain") == "plain-value-2")
            #expect(h.read(slow.targetPath, "plain") == "plain-value-1")  // upstream's behaviour: rotation off
            // A parameter works as the annotation does; a bad value names the key and the fix.
            try await h.editSPC("slow") { $0.spec.parameters?["akvs.io/rotation-poll-interval"] = "0" }
            let c = h.publishRequest(pod: "c", uid: try await h.createPod("c"), spc: "slow")
            await #expect { try await h.publish(c) } throws: {
                ($0 as? RPCError)?.message.contains("akvs.io/rotation-poll-interval '0' is not a positive duration; use e.g. 10m or 1h") == true
            }
        }
    }

    @Test func aRefreshRequestedOnTheClassOrThePodReadsTheVaultPastEveryCacheOnce() async throws {
        // Rotation on at 1h and a provider cache of 1h: only a refresh can bring the new value now.
        try await CSIHarness.with(rotation: true, interval: .seconds(3600), cacheTTL: .seconds(3600)) { h in
            try await h.createSPC()
            let a = h.publishRequest(pod: "a", uid: try await h.createPod("a"))
            let b = h.publishRequest(pod: "b", uid: try await h.createPod("b"))
            try await h.publish(a)
            try await h.publish(b)
            _ = try await h.vaultAdmin().setSecret("plain", value: "plain-value-2")
            try await h.publish(a)
            #expect(h.read(a.targetPath, "plain") == "plain-value-1")

            try await h.editSPC { $0.metadata.annotations = ["akvs.io/refresh-requested-at": "2026-12-06T12:00:00Z"] }
            let gets = try await h.gets("secrets/plain")
            try await h.publish(a)
            try await h.publish(b)
            #expect(h.read(a.targetPath, "plain") == "plain-value-2" && h.read(b.targetPath, "plain") == "plain-value-2")
            #expect(try await h.gets("secrets/plain") > gets)
            try await h.eventually("MountRefreshed on both pods") {
                Set(await h.events(reason: "MountRefreshed").compactMap(\.regarding?.name)) == ["a", "b"]
            }
            // Once per value: the next republishes call nothing.
            let after = try await h.gets("secrets/plain")
            try await h.publish(a)
            try await h.publish(b)
            #expect(try await h.gets("secrets/plain") == after)

            // On one pod: only its volumes are refreshed.
            _ = try await h.vaultAdmin().setSecret("plain", value: "plain-value-3")
            var pod = try await h.client.get(Pod.self, name: "b", namespace: "apps")
            pod.metadata.annotations = ["akvs.io/refresh-requested-at": "now-1"]
            _ = try await h.client.update(pod)
            try await h.eventually("the driver sees pod b's annotation") {
                await h.publisher.pods.get(namespace: "apps", name: "b")?.metadata.annotations?["akvs.io/refresh-requested-at"] == "now-1"
            }
            try await h.publish(a)
            try await h.publish(b)
            #expect(h.read(a.targetPath, "plain") == "plain-value-2")
            #expect(h.read(b.targetPath, "plain") == "plain-value-3")
        }
    }
}
