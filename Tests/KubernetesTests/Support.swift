import Foundation
import Kubernetes
import KubernetesTestServer
import SecretsStoreAPI

/// Runs `body` against a fresh test server with a client configured from its kubeconfig.
func withCluster<T: Sendable>(_ options: KubeTestServerOptions = .init(bookmarkInterval: .milliseconds(200)),
                              _ body: (KubeTestServer, KubernetesClient) async throws -> T) async throws -> T {
    try await KubeTestServer.with(options) { server in
        let config = try KubernetesConfiguration.kubeconfig(yaml: server.kubeconfig(), directory: "/", source: "test kubeconfig")
        let client = try KubernetesClient(configuration: config)
        do {
            let result = try await body(server, client)
            await client.shutdown()
            return result
        } catch {
            await client.shutdown()
            throw error
        }
    }
}

func secret(_ name: String, namespace: String = "default", labels: [String: String]? = nil, _ data: [String: String] = [:]) -> Secret {
    Secret(metadata: ObjectMeta(name: name, namespace: namespace, labels: labels), data: data.mapValues { Data($0.utf8) })
}

func value(_ s: Secret, _ key: String) -> String? { s.data?[key].map { String(decoding: $0, as: UTF8.self) } }

/// Waits until `condition` holds (polling), failing after `timeout`.
func eventually(_ what: String, timeout: Duration = .seconds(5), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw TimeoutError(what: what)
}

struct TimeoutError: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out waiting for \(what)" }
}

func kubeError(_ body: () async throws -> Void) async -> KubernetesError? {
    do { try await body(); return nil } catch let e as KubernetesError { return e } catch { return .transport("\(error)") }
}
