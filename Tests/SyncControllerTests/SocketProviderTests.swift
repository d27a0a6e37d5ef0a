#if canImport(Glibc)
import Glibc
#endif
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Kubernetes
import ProviderAPI
import SecretsStoreAPI
import SyncController
import Testing

/// A third-party provider on a unix socket: answers Mount with fixed files and remembers the last request.
final class FixedProvider: V1alpha1_CSIDriverProvider.SimpleServiceProtocol, @unchecked Sendable {
    private let lock = NSLock()
    private var attributes: [String: String] = [:]
    var lastAttributes: [String: String] { lock.withLock { attributes } }

    func version(request: V1alpha1_VersionRequest, context: ServerContext) async throws -> V1alpha1_VersionResponse {
        var r = V1alpha1_VersionResponse(); r.version = "v1alpha1"; r.runtimeName = "fixed"; r.runtimeVersion = "1.0.0"; return r
    }

    func mount(request: V1alpha1_MountRequest, context: ServerContext) async throws -> V1alpha1_MountResponse {
        let decoded = (try? JSONSerialization.jsonObject(with: Data(request.attributes.utf8)) as? [String: String]) ?? [:]
        lock.withLock { attributes = decoded }
        var reply = V1alpha1_MountResponse()
        var file = V1alpha1_File(); file.path = "token"; file.mode = 0o644; file.contents = Data("from-fixed".utf8)
        var version = V1alpha1_ObjectVersion(); version.id = "secret/token"; version.version = "7"
        reply.files = [file]
        reply.objectVersion = [version]
        return reply
    }
}

@Suite(.serialized) struct SocketProviderTests {
    @Test func providersOtherThanAzureAreCalledOverTheirSocket() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("akvs-sync-providers-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fixed = FixedProvider()
        let server = GRPCServer(transport: .http2NIOPosix(address: .unixDomainSocket(path: dir + "/fixed.sock"), transportSecurity: .plaintext), services: [fixed])
        let serving = Task { try await server.serve() }
        _ = try await server.listeningAddress
        defer { server.beginGracefulShutdown(); serving.cancel() }
        try await Harness.with(providerDirectory: dir) { h in
            _ = try await h.client.create(SecretProviderClass(metadata: ObjectMeta(name: "fixed", namespace: "apps"),
                                                              spec: .init(provider: "fixed", parameters: ["anything": "x"])))
            try await h.createSync("third", items: [("token", "value")], spc: "fixed")
            try await h.waitFor("third", "Create", reason: "CreateSucceeded")
            #expect(await h.secretValue("third", "value") == "from-fixed")
            let attributes = fixed.lastAttributes
            #expect(attributes["anything"] == "x" && attributes["csi.storage.k8s.io/pod.namespace"] == "apps")
            #expect(attributes["csi.storage.k8s.io/serviceAccount.name"] == "web")
            #expect(attributes["csi.storage.k8s.io/serviceAccount.tokens"]?.contains("api://AzureADTokenExchange") == true)

            // No socket for the provider: ProviderError naming the socket; the Azure provider keeps working in-process.
            _ = try await h.client.create(SecretProviderClass(metadata: ObjectMeta(name: "absent", namespace: "apps"),
                                                              spec: .init(provider: "absent", parameters: ["a": "b"])))
            try await h.createSync("nowhere", items: [("token", "value")], spc: "absent")
            let failed = try await h.waitFor("nowhere", "Create", reason: "ProviderError")
            #expect(failed.status?.conditions?.first?.message.contains("absent.sock") == true)
            try await h.createSPC()
            try await h.createSync("azure", items: [("db", "password")])
            try await h.waitFor("azure", "Create", reason: "CreateSucceeded")
        }
    }
}

@Suite(.serialized) struct GroupedFetchTests {
    @Test func secretSyncsSharingAClassAndServiceAccountCostOneProviderCallPerCycle() async throws {
        try await Harness.with(pollInterval: .seconds(2)) { h in
            try await h.createSPC()
            for i in 0..<5 { try await h.createSync("member-\(i)", items: [("db", "password"), ("api", "token-\(i)")]) }
            for i in 0..<5 { try await h.waitFor("member-\(i)", "Create", reason: "CreateSucceeded") }
            let first = await h.statistics.providerCalls
            // Created one by one: a loaded machine may reconcile the first member before the others exist.
            #expect(first <= 3, "5 members of one group were fetched with \(first) provider calls")
            // Every poll after that: the group comes due together and is fetched once (5 calls a cycle without grouping).
            let reconciles = await h.statistics.reconciles
            let deadline = ContinuousClock.now + .seconds(30)
            while await h.statistics.reconciles - reconciles < 10, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
            let cycles = (await h.statistics.reconciles - reconciles) / 5
            let calls = await h.statistics.providerCalls - first
            // One call per cycle when the members stay together; a loaded machine may split a cycle, but never into one call per member.
            #expect(cycles >= 1 && calls < 5 * cycles, "\(calls) provider calls for \(cycles) cycles of 5 members (5 a cycle without grouping)")
            for i in 0..<5 { #expect(await h.secretValue("member-\(i)", "token-\(i)") == "api-v1") }
        }
    }
}
