#if canImport(Glibc)
import Glibc
#endif
import CSIAPI
import CSIDriver
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import ProviderAPI
import Testing

/// A provider that answers Mount with whatever files it is given: a real gRPC server on a real socket,
/// standing in for a buggy or hostile third-party provider.
struct ScriptedProvider: V1alpha1_CSIDriverProvider.SimpleServiceProtocol {
    let files: [(String, String)]
    let errorCode: String

    func version(request: V1alpha1_VersionRequest, context: ServerContext) async throws -> V1alpha1_VersionResponse {
        var r = V1alpha1_VersionResponse(); r.version = "v1alpha1"; r.runtimeName = "scripted"; r.runtimeVersion = "0.0.1"; return r
    }

    func mount(request: V1alpha1_MountRequest, context: ServerContext) async throws -> V1alpha1_MountResponse {
        var reply = V1alpha1_MountResponse()
        reply.files = files.map { path, body in var f = V1alpha1_File(); f.path = path; f.mode = 0o644; f.contents = Data(body.utf8); return f }
        var v = V1alpha1_ObjectVersion(); v.id = "secret/x"; v.version = "1"
        reply.objectVersion = [v]
        if !errorCode.isEmpty { reply.error.code = errorCode }
        return reply
    }
}

@Suite(.enabled(if: isRoot, "mounts tmpfs: needs root"), .serialized) struct HostileProviderTests {
    func withScripted(_ h: CSIHarness, files: [(String, String)], errorCode: String = "", _ body: () async throws -> Void) async throws {
        let socket = h.providerDirectory.appendingPathComponent("scripted.sock").path
        let server = GRPCServer(transport: .http2NIOPosix(address: .unixDomainSocket(path: socket), transportSecurity: .plaintext),
                                services: [ScriptedProvider(files: files, errorCode: errorCode)])
        let task = Task { try await server.serve() }
        _ = try await server.listeningAddress
        defer { server.beginGracefulShutdown(); task.cancel(); unlink(socket) }
        try await body()
    }

    @Test(arguments: ["../outside", "/etc/absolute", "a/../../b", "..data", "./dot"])
    func unsafePathsFromAProviderAreNeverWritten(path: String) async throws {
        try await CSIHarness.with { h in
            try await h.createSPC(provider: "scripted")
            let uid = try await h.createPod("web-0")
            try await withScripted(h, files: [("good", "fine"), (path, "evil")]) {
                let request = h.publishRequest(pod: "web-0", uid: uid)
                do { try await h.publish(request); Issue.record("path \(path) must be refused") } catch let e as RPCError {
                    #expect(e.message.contains("unsafe file path"))
                }
                #expect(!h.isMounted(request.targetPath))
                #expect(!FileManager.default.fileExists(atPath: (request.targetPath as NSString).deletingLastPathComponent + "/outside"))
                #expect(h.metrics.render().contains(#"error_type="FileWriteError""#))
            }
        }
    }

    @Test func providerErrorCodeFailsTheMount() async throws {
        try await CSIHarness.with { h in
            try await h.createSPC(provider: "scripted")
            let uid = try await h.createPod("web-0")
            try await withScripted(h, files: [("good", "fine")], errorCode: "VaultThrottled") {
                do { try await h.publish(h.publishRequest(pod: "web-0", uid: uid)); Issue.record("must fail") } catch let e as RPCError {
                    #expect(e.message.contains("provider error code VaultThrottled"))
                }
                #expect(h.metrics.render().contains(#"error_type="VaultThrottled""#))
            }
        }
    }

    @Test func invalidProviderNameIsRefused() async throws {
        try await CSIHarness.with { h in
            try await h.createSPC(provider: "../azure")
            let uid = try await h.createPod("web-0")
            do { try await h.publish(h.publishRequest(pod: "web-0", uid: uid)); Issue.record("must fail") } catch let e as RPCError {
                #expect(e.code == .invalidArgument && e.message.contains("not a valid provider name"))
            }
        }
    }
}
