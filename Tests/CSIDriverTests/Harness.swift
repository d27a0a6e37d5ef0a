#if canImport(Glibc)
import Glibc
#endif
import AzureProvider
import CSIAPI
import CSIDriver
import Emulator
import EmulatorTestSupport
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import KeyVault
import Kubernetes
import KubernetesTestServer
import Logging
import ProviderClient
import ProviderServer
import SecretsStoreAPI
import Serving

/// Tests that mount tmpfs need root (CI runs as root); elsewhere they are reported as skipped.
let isRoot = getuid() == 0

/// A Kubernetes test server, a Key Vault emulator, the real Azure provider serving gRPC on a unix socket in
/// a provider folder, and the CSI driver serving CSI on its own socket, with a CSI client (kubelet's role).
struct CSIHarness: Sendable {
    let server: KubeTestServer
    let client: KubernetesClient
    let emulator: EmulatorFixture
    let directory: URL
    let providerDirectory: URL
    let csiSocket: String
    let metrics: DriverMetrics
    let publisher: NodePublisher
    let configuration: DriverConfiguration
    let node: Csi_V1_Node.Client<HTTP2ClientTransport.Posix>
    let identity: Csi_V1_Identity.Client<HTTP2ClientTransport.Posix>
    let controller: Csi_V1_Controller.Client<HTTP2ClientTransport.Posix>
    static let nodeID = "node-a"

    static func with(rotation: Bool = false, interval: Duration = .seconds(120), cacheTTL: Duration = .milliseconds(1),
                     startProvider: Bool = true, inProcessAzure: Bool = false, retryDelay: Duration = .seconds(5),
                     configure: (inout DriverConfiguration) -> Void = { _ in },
                     _ body: (CSIHarness) async throws -> Void) async throws {
        try await KubeTestServer.with(.init(bookmarkInterval: .milliseconds(200))) { server in
            let config = try KubernetesConfiguration.kubeconfig(yaml: server.kubeconfig(), directory: "/", source: "test")
            let client = try KubernetesClient(configuration: config)
            defer { Task { await client.shutdown() } }
            try await EmulatorFixture.with { emulator in
                let dir = emulator.directory.appendingPathComponent("csi")
                let providers = dir.appendingPathComponent("providers")
                try FileManager.default.createDirectory(at: providers, withIntermediateDirectories: true)
                try FileManager.default.createDirectory(at: dir.appendingPathComponent("pods"), withIntermediateDirectories: true)
                for ns in ["apps", "other"] { _ = try await client.create(Namespace(name: ns)) }

                var quiet = Logger(label: "akvs.csi.test")
                quiet.logLevel = .critical
                let providerTask: Task<Void, any Error>? = startProvider && !inProcessAzure
                    ? try await startAzureProvider(emulator, socket: providers.appendingPathComponent("azure.sock").path, cacheTTL: cacheTTL, logger: quiet)
                    : nil

                var configuration = DriverConfiguration(nodeID: nodeID, version: "0.1.0-test")
                configuration.providerVolumePath = providers.path
                configuration.additionalProviderVolumePaths = [dir.appendingPathComponent("no-such-dir").path]
                configuration.enableSecretRotation = rotation
                configuration.rotationPollInterval = interval
                configuration.providerTimeout = .seconds(20)
                configuration.secretSyncRetryDelay = retryDelay
                configuration.staleStoreDirectory = dir.appendingPathComponent("last-good").path
                configure(&configuration)
                let metrics = DriverMetrics()
                // One process for the node role: the Azure provider in the driver, no azure.sock.
                let inProcess: [String: any InProcessProvider] = inProcessAzure
                    ? ["azure": InProcessAzureProvider(provider: AzureProvider(session: emulator.session, configuration: ProviderConfiguration(objectCacheTTL: cacheTTL), logger: quiet))]
                    : [:]
                let publisher = NodePublisher(configuration: configuration, client: client,
                                              providers: ProviderClients(searchPaths: configuration.additionalProviderVolumePaths + [configuration.providerVolumePath],
                                                                         timeout: configuration.providerTimeout, logger: quiet),
                                              inProcess: inProcess, metrics: metrics, logger: quiet)
                let socket = dir.appendingPathComponent("csi.sock").path
                let driver = CSIDriverServer(options: .init(endpoint: "unix://\(socket)", metrics: ListenAddress(host: "127.0.0.1", port: 0),
                                                            health: ListenAddress(host: "127.0.0.1", port: 0)),
                                             publisher: publisher, metrics: metrics, logger: quiet)
                let driverTask = try await startServer { ready in try await driver.run(ready: ready) }
                defer { driverTask.cancel(); providerTask?.cancel() }
                try await withGRPCClient(transport: .http2NIOPosix(target: .unixDomainSocket(path: socket), transportSecurity: .plaintext)) { grpc in
                    let harness = CSIHarness(server: server, client: client, emulator: emulator, directory: dir, providerDirectory: providers,
                                             csiSocket: socket, metrics: metrics, publisher: publisher, configuration: configuration,
                                             node: Csi_V1_Node.Client(wrapping: grpc), identity: Csi_V1_Identity.Client(wrapping: grpc),
                                             controller: Csi_V1_Controller.Client(wrapping: grpc))
                    do { try await body(harness) } catch {
                        await harness.unmountAll()
                        throw error
                    }
                    await harness.unmountAll()
                }
                driverTask.cancel()
                providerTask?.cancel()
                _ = await driverTask.result
                _ = await providerTask?.result
            }
        }
    }

    /// Starts the real Azure provider (`akvs provider`'s server) on `socket`.
    static func startAzureProvider(_ emulator: EmulatorFixture, socket: String, cacheTTL: Duration, logger: Logger) async throws -> Task<Void, any Error> {
        let metrics = PrometheusProviderMetrics()
        let provider = AzureProvider(session: emulator.session, configuration: ProviderConfiguration(objectCacheTTL: cacheTTL), metrics: metrics, logger: logger)
        let server = ProviderServer(options: .init(endpoint: "unix://\(socket)", healthzPort: 0, metricsPort: 0, httpHost: "127.0.0.1"),
                                    provider: provider, metrics: metrics, logger: logger)
        return try await startServer { ready in try await server.run(ready: ready) }
    }

    /// Runs a server until it says it is ready; a server that cannot start throws here.
    static func startServer(_ run: @escaping @Sendable (@escaping @Sendable () -> Void) async throws -> Void) async throws -> Task<Void, any Error> {
        let (ready, continuation) = AsyncStream<Void>.makeStream()
        let task = Task {
            defer { continuation.finish() }
            try await run { continuation.yield() }
        }
        for await _ in ready { return task }
        try await task.value
        throw HarnessError(description: "server stopped before it was ready")
    }

    // MARK: Cluster objects

    static func objectsParameter(_ objects: [String]) -> String {
        "array:\n" + objects.map { "  - |\n" + $0.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n") + "\n" }.joined()
    }

    @discardableResult
    func createSPC(_ name: String = "vault", namespace: String = "apps", objects: [String] = ["objectName: plain\nobjectType: secret"],
                   secretObjects: [SecretProviderClass.SecretObject]? = nil, provider: String = "azure",
                   annotations: [String: String]? = nil) async throws -> SecretProviderClass {
        let created = try await client.create(SecretProviderClass(metadata: ObjectMeta(name: name, namespace: namespace, annotations: annotations),
                                                                  spec: .init(provider: provider, parameters: parameters(objects), secretObjects: secretObjects)))
        // The driver reads classes from its watch: a test goes on once the driver has seen this one.
        _ = await publisher.classes.get(namespace: namespace, name: name, waitingUpTo: .seconds(10))
        return created
    }

    func parameters(_ objects: [String]) -> [String: String] {
        ["keyvaultName": "test-kv", "tenantId": EmulatorFixture.tenant, "cloudName": "AzureStackCloud",
         "cloudEnvFileName": emulator.emulator.credentials.cloudEnvFile, "objects": Self.objectsParameter(objects)]
    }

    /// Changes a class and waits until the driver's watch has the change.
    func editSPC(_ name: String = "vault", namespace: String = "apps", _ change: (inout SecretProviderClass) -> Void) async throws {
        var spc = try await client.get(SecretProviderClass.self, name: name, namespace: namespace)
        change(&spc)
        let updated = try await client.update(spc)
        try await eventually("the driver sees \(namespace)/\(name) at resourceVersion \(updated.metadata.resourceVersion ?? "")") {
            await publisher.classes.get(namespace: namespace, name: name)?.metadata.resourceVersion == updated.metadata.resourceVersion
        }
    }

    /// Creates a pod object (so owner references and garbage collection work) and returns its uid.
    func createPod(_ name: String, namespace: String = "apps") async throws -> String {
        // As on a cluster, the pod's service account must exist (kube-apiserver's ServiceAccount admission).
        do { _ = try await client.create(ServiceAccount(metadata: ObjectMeta(name: "web", namespace: namespace))) } catch let error as KubernetesError where error.isAlreadyExists {}
        let pod = try await client.create(Pod(metadata: ObjectMeta(name: name, namespace: namespace), spec: .init(nodeName: Self.nodeID, serviceAccountName: "web")))
        return pod.metadata.uid ?? ""
    }

    func target(_ pod: String, volume: String = "secrets") -> String {
        directory.appendingPathComponent("pods/\(pod)/volumes/kubernetes.io~csi/\(volume)/mount").path
    }

    static let readerSecrets = ["clientid": EmulatorFixture.readerID, "clientsecret": EmulatorFixture.readerSecret]

    func publishRequest(pod: String, uid: String, namespace: String = "apps", spc: String = "vault", target: String? = nil,
                        secrets: [String: String] = readerSecrets, readonly: Bool = true) -> Csi_V1_NodePublishVolumeRequest {
        var request = Csi_V1_NodePublishVolumeRequest()
        request.volumeID = "csi-\(uid)"
        request.targetPath = target ?? self.target(pod)
        request.readonly = readonly
        var capability = Csi_V1_VolumeCapability()
        capability.mount = .init()
        capability.accessMode.mode = .singleNodeReaderOnly
        request.volumeCapability = capability
        request.volumeContext = ["secretProviderClass": spc, "csi.storage.k8s.io/pod.name": pod, "csi.storage.k8s.io/pod.namespace": namespace,
                                 "csi.storage.k8s.io/pod.uid": uid, "csi.storage.k8s.io/serviceAccount.name": "web", "csi.storage.k8s.io/ephemeral": "true"]
        request.secrets = secrets
        return request
    }

    func publish(_ request: Csi_V1_NodePublishVolumeRequest) async throws {
        // kubelet creates the pod's volume folder; the mount point itself is made by the driver.
        if request.targetPath.hasPrefix("/") {
            try FileManager.default.createDirectory(atPath: (request.targetPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        }
        _ = try await node.nodePublishVolume(request)
    }

    func unpublish(_ target: String, volumeID: String = "v") async throws {
        var request = Csi_V1_NodeUnpublishVolumeRequest()
        request.volumeID = volumeID
        request.targetPath = target
        _ = try await node.nodeUnpublishVolume(request)
    }

    func read(_ target: String, _ file: String) -> String? {
        FileManager.default.contents(atPath: target + "/" + file).map { String(decoding: $0, as: UTF8.self) }
    }

    func isMounted(_ target: String) -> Bool { Mounter().isMountPoint(target) }

    func vaultAdmin() async throws -> KeyVaultClient { try await emulator.client("test-kv", credential: try emulator.adminCredential()) }

    func gets(_ object: String) async throws -> Int {
        try await emulator.admin.counters().vaults["test-kv"]?.byObject[object] ?? 0
    }

    func podStatus(_ name: String, namespace: String = "apps") async -> SecretProviderClassPodStatus? {
        try? await client.get(SecretProviderClassPodStatus.self, name: name, namespace: namespace)
    }

    func secret(_ name: String, namespace: String = "apps") async -> Secret? { try? await client.get(Secret.self, name: name, namespace: namespace) }

    func events(reason: String) async -> [Event] {
        ((try? await client.listAll(Event.self, namespace: nil))?.items ?? []).filter { $0.reason == reason }
    }

    /// Waits until `check` holds.
    func eventually(_ what: String, timeout: Duration = .seconds(15), _ check: () async -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if await check() { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw HarnessError(description: "timed out waiting for: \(what)")
    }

    /// Leaves no tmpfs behind, whatever a test did.
    func unmountAll() async {
        let pods = directory.appendingPathComponent("pods").path
        guard let enumerator = FileManager.default.enumerator(atPath: pods) else { return }
        var mounts: [String] = []
        while let relative = enumerator.nextObject() as? String {
            if relative.hasSuffix("/mount") { mounts.append(pods + "/" + relative); enumerator.skipDescendants() }
        }
        for m in mounts { try? Mounter().unmount(m) }
        try? Mounter().unmount(configuration.staleStoreDirectory)
    }
}

struct HarnessError: Error, CustomStringConvertible { var description: String }
