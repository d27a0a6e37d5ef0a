import ArgumentParser
import Foundation
import KubernetesTestServer
import UnixSignals

/// `akvs-kube-test-server`: the in-memory Kubernetes API server as a process, for interop tests.
@main
struct KubeTestServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "akvs-kube-test-server",
        abstract: "In-memory Kubernetes API server for tests (HTTP, token auth, watch, apply, GC, TokenRequest).")

    @Option(help: "Directory for the kubeconfig.") var stateDir: String
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port (0 picks a free one).") var port = 0
    @Option(help: "Seconds between watch bookmarks.") var bookmarkIntervalSeconds = 1.0
    @Option(help: "Changes kept for watch resumption.") var history = 100_000
    @Flag(help: "Serve HTTPS like kube-apiserver (CA in <state-dir>/pki, in the kubeconfig); kubectl sends no token over plain HTTP.") var tls = false

    func run() async throws {
        let options = KubeTestServerOptions(host: host, port: port, bookmarkInterval: .milliseconds(Int(bookmarkIntervalSeconds * 1000)), historyLimit: history,
                                            tlsDirectory: tls ? URL(fileURLWithPath: stateDir).appendingPathComponent("pki").path : nil)
        let server = try await KubeTestServer.start(options)
        try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true)
        let kubeconfig = URL(fileURLWithPath: stateDir).appendingPathComponent("kubeconfig")
        try server.kubeconfig().write(to: kubeconfig, atomically: true, encoding: .utf8)
        print("akvs kube-test-server ready \(server.url.absoluteString) kubeconfig=\(kubeconfig.path)")
        fflush(nil)
        for await _ in await UnixSignalsSequence(trapping: .sigterm, .sigint) { break }
        await server.stop()
    }
}
