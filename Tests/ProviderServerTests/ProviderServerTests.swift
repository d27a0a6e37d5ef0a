import AzureProvider
import EmulatorTestSupport
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import ProviderAPI
import ProviderServer
import Serving
import Testing

@Suite struct ProviderServerTests {
    func withProvider<T: Sendable>(_ f: EmulatorFixture, _ body: @Sendable (V1alpha1_CSIDriverProvider.Client<HTTP2ClientTransport.Posix>, String, PrometheusProviderMetrics) async throws -> T) async throws -> T {
        let socket = f.directory.appendingPathComponent("p/azure.sock").path
        let metrics = PrometheusProviderMetrics()
        let server = ProviderServer(options: .init(endpoint: "unix://\(socket)", healthzPort: 0, metricsPort: 0, httpHost: "127.0.0.1"),
                                    provider: AzureProvider(session: f.session, metrics: metrics), metrics: metrics)
        let (ready, continuation) = AsyncStream<Void>.makeStream()
        // If the server cannot start, `run` throws and ends the stream instead of leaving the test waiting.
        let task = Task {
            defer { continuation.finish() }
            try await server.run(ready: { continuation.yield() })
        }
        var started = false
        for await _ in ready { started = true; break }
        guard started else { _ = try await task.value; throw ServingError.socket(path: socket, reason: "provider did not start") }
        defer { task.cancel() }
        return try await withGRPCClient(transport: .http2NIOPosix(target: .unixDomainSocket(path: socket), transportSecurity: .plaintext)) { grpc in
            try await body(V1alpha1_CSIDriverProvider.Client(wrapping: grpc), socket, metrics)
        }
    }

    func request(_ f: EmulatorFixture, objects: String, permission: String = "420") -> V1alpha1_MountRequest {
        let attributes: [String: String] = [
            "keyvaultName": "test-kv", "tenantId": EmulatorFixture.tenant, "cloudName": "AzureStackCloud",
            "cloudEnvFileName": f.emulator.credentials.cloudEnvFile, "objects": objects,
            "csi.storage.k8s.io/pod.name": "web-0", "csi.storage.k8s.io/pod.namespace": "apps",
        ]
        var r = V1alpha1_MountRequest()
        r.attributes = String(decoding: try! JSONSerialization.data(withJSONObject: attributes), as: UTF8.self)
        r.secrets = #"{"clientid":"\#(EmulatorFixture.readerID)","clientsecret":"\#(EmulatorFixture.readerSecret)"}"#
        r.permission = permission
        return r
    }

    @Test func versionMountHealthAndMetrics() async throws {
        try await EmulatorFixture.with { f in
            try await withProvider(f) { client, socket, metrics in
                var v = V1alpha1_VersionRequest()
                v.version = "v1alpha1"
                let version = try await client.version(v)
                #expect(version.version == "v1alpha1" && !version.runtimeVersion.isEmpty)
                var st = stat()
                #expect(lstat(socket, &st) == 0 && (st.st_mode & 0o077) == 0)
                let reply = try await client.mount(request(f, objects: "array:\n  - |\n    objectName: plain\n    objectType: secret\n    filePermission: \"0600\"\n"))
                #expect(reply.files.count == 1 && reply.files[0].path == "plain" && reply.files[0].mode == 0o600)
                #expect(reply.files[0].contents == Data("plain-value-1".utf8))
                #expect(reply.objectVersion.map(\.id) == ["secret/plain"] && reply.objectVersion[0].version.count == 32)
                #expect(await HealthProbe.check(socketPath: socket))
                let text = metrics.render()
                #expect(text.contains("grpc_request_bucket{grpc_method=\"/v1alpha1.CSIDriverProvider/Mount\""))
                #expect(text.contains("keyvault_request_count") && !text.contains("plain-value-1"))
            }
        }
    }

    @Test func errorsAreUnknownWithUpstreamWording() async throws {
        try await EmulatorFixture.with { f in
            try await withProvider(f) { client, _, _ in
                let missing = request(f, objects: "array:\n  - |\n    objectName: nope\n    objectType: secret\n")
                await #expect { _ = try await client.mount(missing) } throws: { error in
                    guard let rpc = error as? RPCError else { return false }
                    return rpc.code == .unknown && rpc.message.hasPrefix("failed to mount objects, error: [not found: 1] failed to get objectType:secret, objectName:nope")
                        && rpc.metadata[stringValues: MountFailureTrailer.key].contains("notFound")
                }
                var badAttributes = missing
                badAttributes.attributes = "{"
                await #expect { _ = try await client.mount(badAttributes) } throws: { ($0 as? RPCError)?.message.contains("failed to unmarshal attributes") == true }
                let badPermission = request(f, objects: "array: []", permission: "0644x")
                await #expect { _ = try await client.mount(badPermission) } throws: { ($0 as? RPCError)?.message.contains("failed to unmarshal file permission") == true }
            }
        }
    }

    @Test func endpointMustBeAUnixSocket() throws {
        #expect(throws: ServingError.self) { try ProviderServer.socketPath("tcp://127.0.0.1:1") }
        #expect(throws: ServingError.self) { try ProviderServer.socketPath("unix://relative.sock") }
        #expect(try ProviderServer.socketPath("unix:///provider/azure.sock") == "/provider/azure.sock")
    }
}
