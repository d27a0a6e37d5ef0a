#if canImport(Glibc)
import Glibc
#endif
import CSIAPI
import CSIDriver
import Foundation
import KeyVault
import Kubernetes
import Testing

/// One process for the node role: the Azure provider served inside the driver (`--azure-provider in-process`).
@Suite(.enabled(if: isRoot, "mounts tmpfs: needs root"), .serialized) struct InProcessProviderTests {
    @Test func theDriverMountsAndRotatesWithNoProviderSocket() async throws {
        try await CSIHarness.with(rotation: true, interval: .seconds(1), cacheTTL: .seconds(60), inProcessAzure: true) { h in
            #expect(!FileManager.default.fileExists(atPath: h.providerDirectory.appendingPathComponent("azure.sock").path))
            try await h.createSPC(objects: ["objectName: plain\nobjectType: secret", "objectName: rotating\nobjectType: secret\nobjectAlias: current"])
            let uid = try await h.createPod("web-0")
            let request = h.publishRequest(pod: "web-0", uid: uid)
            try await h.publish(request)
            #expect(h.read(request.targetPath, "plain") == "plain-value-1")
            #expect(h.read(request.targetPath, "current") == "r3")

            // A new version is picked up at the next due republish although the in-process cache would keep the
            // old one for 60 s: rotations take results no older than the interval.
            _ = try await h.emulator.client(credential: h.emulator.adminCredential()).setSecret("plain", value: "plain-value-2")
            try await Task.sleep(for: .milliseconds(1200))
            try await h.publish(request)
            #expect(h.read(request.targetPath, "plain") == "plain-value-2")
            #expect(h.metrics.render().contains(#"rotation_reconcile_total{os_type="linux",provider="azure",rotated="true"} 1"#))

            try await h.unpublish(request.targetPath)
            #expect(!h.isMounted(request.targetPath))
        }
    }

    @Test func providerErrorsReadAsTheGRPCProvidersDo() async throws {
        try await CSIHarness.with(inProcessAzure: true) { h in
            try await h.createSPC(objects: ["objectName: missing\nobjectType: secret"])
            let uid = try await h.createPod("web-1")
            do {
                try await h.publish(h.publishRequest(pod: "web-1", uid: uid))
                Issue.record("a missing object was mounted")
            } catch {
                #expect("\(error)".contains("failed to mount objects"), "\(error)")
                #expect("\(error)".contains("missing"), "\(error)")
            }
            #expect(h.metrics.render().contains(#"error_type="GRPCProviderError""#))
        }
    }

    @Test func anExpiringObjectWarnsOnThePodStatusOnceAndIsAMetric() async throws {
        try await CSIHarness.with(rotation: true, interval: .milliseconds(200), inProcessAzure: true) { h in
            let admin = try await h.emulator.client(credential: h.emulator.adminCredential())
            let plain = try await admin.setSecret("plain", value: "plain-value-1")
            let expires = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 + 3 * 86400).rounded(.down))
            _ = try await admin.updateSecret("plain", version: plain.id?.keyVaultVersion ?? "", expires: expires)
            try await h.createSPC(objects: ["objectName: plain\nobjectType: secret"])
            let uid = try await h.createPod("web-2")
            let request = h.publishRequest(pod: "web-2", uid: uid)
            try await h.publish(request)
            for _ in 0..<3 {
                try await Task.sleep(for: .milliseconds(250))
                try await h.publish(request)
            }
            let warnings = try await h.client.list(Event.self, namespace: "apps").items.filter { $0.reason == "ObjectExpiring" }
            #expect(warnings.count == 1, "\(warnings.map(\.note))")
            #expect(warnings.first?.regarding?.kind == "SecretProviderClassPodStatus")
            #expect(warnings.first?.regarding?.name == "web-2-apps-vault")
            #expect(warnings.first?.note?.contains("expires at \(ISO8601DateFormatter().string(from: expires)) (in 2 days)") == true, "\(String(describing: warnings.first?.note))")
            let text = h.metrics.render()
            #expect(text.contains(#"akvs_last_success_timestamp_seconds{kind="SecretProviderClass",namespace="apps",name="vault"}"#), "\(text)")
            #expect(text.contains(#"akvs_last_attempt_success{kind="SecretProviderClass",namespace="apps",name="vault"} 1"#))
            try await h.unpublish(request.targetPath)
            #expect(!h.metrics.render().contains(#"kind="SecretProviderClass",namespace="apps",name="vault""#), "the series goes with the class's last volume")
        }
    }
}
