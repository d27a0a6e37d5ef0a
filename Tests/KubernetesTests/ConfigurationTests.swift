import Foundation
import Kubernetes
import KubernetesTestServer
import SecretsStoreAPI
import Testing

@Suite struct ConfigurationTests {
    func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("akvs-kube-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func kubeconfigContextsAndErrors() throws {
        let yaml = """
        apiVersion: v1
        kind: Config
        current-context: dev
        clusters:
        - name: c1
          cluster: {server: "https://k8s.example:6443", certificate-authority-data: \(Data("not a pem".utf8).base64EncodedString())}
        users:
        - name: u1
          user: {tokenFile: tok}
        - name: plugin
          user: {exec: {command: aws}}
        contexts:
        - name: dev
          context: {cluster: c1, user: u1, namespace: team}
        - name: broken
          context: {cluster: missing, user: u1}
        - name: exec
          context: {cluster: c1, user: plugin}
        """
        let config = try KubernetesConfiguration.kubeconfig(yaml: yaml, directory: "/etc/kube", source: "kc")
        #expect(config.server.absoluteString == "https://k8s.example:6443")
        #expect(config.namespace == "team")
        #expect(config.certificateAuthorityPEM == "not a pem")
        #expect(config.token?.isFile == true)
        #expect(throws: KubernetesError.configuration("kc: cluster 'missing' (context 'broken') is not defined under clusters")) {
            try KubernetesConfiguration.kubeconfig(yaml: yaml, directory: "/", source: "kc", context: "broken")
        }
        #expect(throws: KubernetesError.self) { try KubernetesConfiguration.kubeconfig(yaml: yaml, directory: "/", source: "kc", context: "exec") }
        #expect(throws: KubernetesError.self) { try KubernetesConfiguration.kubeconfig(yaml: yaml, directory: "/", source: "kc", context: "nope") }
        // A CA that is not PEM is reported when the client is built.
        #expect(throws: KubernetesError.self) { _ = try KubernetesClient(configuration: config) }
    }

    /// In-cluster config re-reads the projected token when kubelet rotates it: after a 401 the file is read again.
    @Test func inClusterTokenRotation() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try await KubeTestServer.with(.init(tokens: ["first"])) { server in
            try "first\n".write(to: dir.appendingPathComponent("token"), atomically: true, encoding: .utf8)
            try "apps".write(to: dir.appendingPathComponent("namespace"), atomically: true, encoding: .utf8)
            let env = ["KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": "\(server.url.port!)"]
            var config = try KubernetesConfiguration.inCluster(environment: env, serviceAccountDirectory: dir.path)
            #expect(config.namespace == "apps")
            #expect(config.server.scheme == "https")
            config.server = server.url // the test server speaks plain HTTP
            let client = try KubernetesClient(configuration: config)
            _ = try await client.list(Namespace.self, namespace: nil)

            await server.acceptToken("second")
            await server.revokeToken("first")
            try "second".write(to: dir.appendingPathComponent("token"), atomically: true, encoding: .utf8)
            _ = try await client.list(Namespace.self, namespace: nil)
            await client.shutdown()
        }
        #expect(throws: KubernetesError.self) { try KubernetesConfiguration.inCluster(environment: [:], serviceAccountDirectory: dir.path) }
    }
}
