import AsyncHTTPClient
import CSIAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Kubernetes
import NIOCore
import NIOFoundationCompat
import SecretsStoreAPI
import StructuredJSON

/// The CSI driver as kubelet sees it: `akvs csi-driver`, `akvs provider`, `akvs emulator` and
/// `akvs-kube-test-server` run as child processes; this process is kubelet, calling CSI over the driver's
/// socket. Needs root (tmpfs mounts). Reports publish latency (10 objects, emulated vault latency), 100
/// pods publishing at once, and 1,000 mounted volumes over 50 shared objects republished in one interval, once or
/// for `republishRounds` intervals (`akvs-kube-bench csi VOLUMES INTERVAL ROUNDS`: RSS after each, a leak check).
struct CSIBenchmark {
    var latencyMs = 20
    var samples = 50
    var concurrentPods = 100
    var volumes = 1_000
    var sharedObjects = 50
    var intervalSeconds = 30
    var republishRounds = 1

    struct Setup {
        var work: URL
        var kubeconfig: String
        var credentials: JSONValue
        var admin: AdminCounters
        var http: HTTPClient
    }

    func run() async throws -> [String] {
        guard getuid() == 0 else { throw BenchError("the CSI benchmark mounts tmpfs: run it as root") }
        let work = URL(fileURLWithPath: "/tmp/akvs-csi-bench-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: work.appendingPathComponent("providers"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let kube = try ChildProcess.start(ChildProcess.sibling("akvs-kube-test-server"), ["--state-dir", work.appendingPathComponent("kube").path],
                                          readyPrefix: "akvs kube-test-server ready")
        defer { kube.stop() }
        let kubeconfig = work.appendingPathComponent("kube/kubeconfig").path
        let client = try KubernetesClient(configuration: try KubernetesConfiguration.kubeconfig(path: kubeconfig))
        let emulator = try EmulatorProcess.start(work: work, seed: seed())
        defer { emulator.process.stop() }
        let credentials = emulator.credentials, caFile = emulator.caFile, admin = emulator.admin
        do {
            let lines = try await measure(work: work, kubeconfig: kubeconfig, client: client, credentials: credentials, caFile: caFile, admin: admin,
                                          helpers: [("akvs-kube-test-server", kube.process.processIdentifier), ("emulator", emulator.process.process.processIdentifier)])
            await admin.shutdown()
            await client.shutdown()
            return lines
        } catch {
            await admin.shutdown()
            await client.shutdown()
            throw error
        }
    }

    func measure(work: URL, kubeconfig: String, client: KubernetesClient, credentials: JSONValue, caFile: String, admin: AdminCounters,
                 helpers: [(String, Int32)] = []) async throws -> [String] {
        for ns in 0..<10 { _ = try await client.create(Namespace(name: "ns-\(ns)")) }
        try await createClasses(client, credentials: credentials)

        let socket = work.appendingPathComponent("csi.sock").path
        let metricsPort = try freePort()
        var provider = try startProvider(work, caFile: caFile, cacheTTL: 0)
        let driver = try ChildProcess.start(ChildProcess.sibling("akvs"), [
            "csi-driver", "--endpoint", "unix://\(socket)", "--nodeid", "bench-node", "--provider-volume", work.appendingPathComponent("providers").path,
            "--additional-provider-volume-paths", work.appendingPathComponent("none").path, "--kubeconfig", kubeconfig,
            "--enable-secret-rotation", "true", "--rotation-poll-interval", "\(intervalSeconds)s",
            "--metrics-addr", "127.0.0.1:\(metricsPort)", "--health-addr", "127.0.0.1:\(try freePort())", "--log-level", "error"], readyPrefix: "akvs csi-driver ready")
        defer { driver.stop() }
        var lines = ["### CSI driver (`akvs csi-driver` + `akvs provider` + emulator + kube test server, each its own process; this process is kubelet)", ""]
        try await withGRPCClient(transport: .http2NIOPosix(target: .unixDomainSocket(path: socket), transportSecurity: .plaintext)) { grpc in
            let node = Csi_V1_Node.Client(wrapping: grpc)
            let idle = (rss(driver.process.processIdentifier), rss(provider.process.processIdentifier))
            // 1 and 2: no result sharing in the provider (every mount pays the vault), 20 ms per GET.
            try await admin.setFaults(latencyMs: latencyMs)
            _ = try await KubeRequests.take(client)
            var sequential: [Double] = []
            for i in 0..<samples {
                let r = request(work, pod: "seq-\(i)", namespace: "ns-0", spc: "ten")
                let start = ContinuousClock.now
                try await publish(node, r)
                sequential.append(seconds(ContinuousClock.now - start))
            }
            let sequentialRequests = try await KubeRequests.take(client)
            _ = try await admin.reset()
            var concurrent: [Double] = []
            let processes = [("driver", driver.process.processIdentifier), ("provider", provider.process.processIdentifier)] + helpers
            let cpuBefore = processes.map { cpuSeconds($0.1) }
            let burstStart = ContinuousClock.now
            try await withThrowingTaskGroup(of: Double.self) { group in
                for i in 0..<concurrentPods {
                    let r = request(work, pod: "burst-\(i)", namespace: "ns-1", spc: "ten")
                    group.addTask {
                        let start = ContinuousClock.now
                        try await publish(node, r)
                        return seconds(ContinuousClock.now - start)
                    }
                }
                for try await s in group { concurrent.append(s) }
            }
            let burst = seconds(ContinuousClock.now - burstStart)
            let burstCPU = zip(processes, cpuBefore).map { String(format: "%@ %.2f", $0.0.0, cpuSeconds($0.0.1) - $0.1) }.joined(separator: ", ")
            let burstGets = try await admin.reset().gets
            for i in 0..<samples { try await unpublish(node, target(work, "seq-\(i)")) }
            for i in 0..<concurrentPods { try await unpublish(node, target(work, "burst-\(i)")) }
            try await admin.setFaults(latencyMs: 0)
            sequential.sort(); concurrent.sort()
            lines += [
                "| NodePublishVolume, 10 objects, \(latencyMs) ms per Key Vault GET | calls | p50 ms | p99 ms | wall s | Key Vault GETs |",
                "|---|---:|---:|---:|---:|---:|",
                String(format: "| one pod at a time | %d | %.1f | %.1f | %.2f | %d |", samples, pct(sequential, 0.5) * 1000, pct(sequential, 0.99) * 1000, sequential.reduce(0, +), samples * 10),
                String(format: "| %d pods at once | %d | %.1f | %.1f | %.2f | %d |", concurrentPods, concurrentPods, pct(concurrent, 0.5) * 1000, pct(concurrent, 0.99) * 1000, burst, burstGets),
                "",
                "CPU seconds of each process during the \(concurrentPods) pods at once: \(burstCPU).",
                "",
                String(format: "Kubernetes requests per NodePublish (one pod at a time, as the test server counted them): %.2f writes, %.2f reads, %d answered 4xx/5xx in all. Writes: %@.",
                       Double(sequentialRequests.writes()) / Double(samples),
                       Double(sequentialRequests.entries.filter { $0.verb == "GET" }.reduce(0) { $0 + $1.count }) / Double(samples),
                       sequentialRequests.failed, sequentialRequests.summary),
                "",
            ]

            // 3: the provider shares results for one interval (--object-cache-ttl = rotation interval).
            provider.stop()
            provider = try startProvider(work, caFile: caFile, cacheTTL: intervalSeconds)
            let perClass = (volumes + 9) / 10
            let fillStart = ContinuousClock.now
            try await forEachConcurrently(0..<volumes, width: 32) { i in
                try await publish(node, request(work, pod: "v-\(i)", namespace: "ns-\(i / perClass)", spc: "shared"))
            }
            let fill = seconds(ContinuousClock.now - fillStart)
            let fillGets = try await admin.reset().gets
            let afterFill = (rss(driver.process.processIdentifier), rss(provider.process.processIdentifier))
            // Past the interval (and the provider's TTL), kubelet republishes every volume; each round is one interval.
            var rounds: [(wall: Double, gets: Int, driver: Double, provider: Double)] = []
            for _ in 0..<republishRounds {
                try await Task.sleep(for: .seconds(intervalSeconds + 2))
                let republishStart = ContinuousClock.now
                try await forEachConcurrently(0..<volumes, width: 32) { i in
                    try await publish(node, request(work, pod: "v-\(i)", namespace: "ns-\(i / perClass)", spc: "shared"))
                }
                let wall = seconds(ContinuousClock.now - republishStart)
                rounds.append((wall, try await admin.reset().gets, rss(driver.process.processIdentifier), rss(provider.process.processIdentifier)))
            }
            let metrics = try await fetch(admin.http, url: "http://127.0.0.1:\(metricsPort)/metrics")
            let rotated = metrics.split(separator: "\n").filter { $0.hasPrefix("rotation_reconcile_total") }.joined(separator: "; ")
            try await forEachConcurrently(0..<volumes, width: 32) { i in try await unpublish(node, target(work, "v-\(i)")) }
            lines += [
                "\(volumes) volumes (10 SecretProviderClasses × 5 objects = \(sharedObjects) distinct objects, one service principal), rotation interval and provider TTL \(intervalSeconds) s:",
                "",
                "| phase | wall s | Key Vault GETs (goal \(sharedObjects)) | driver RSS MiB | provider RSS MiB |",
                "|---|---:|---:|---:|---:|",
                String(format: "| idle | | | %.1f | %.1f |", idle.0, idle.1),
                String(format: "| first publish of %d volumes (32 at a time) | %.2f | %d | %.1f | %.1f |", volumes, fill, fillGets, afterFill.0, afterFill.1),
            ] + rounds.enumerated().map { round, r in
                "| republish of all \(volumes) after the interval\(republishRounds > 1 ? " (round \(round + 1))" : "") | "
                    + String(format: "%.2f | %d | %.1f | %.1f |", r.wall, r.gets, r.driver, r.provider)
            } + [
                "",
                "Driver counters after the republish\(republishRounds > 1 ? "es" : ""): `\(rotated)`",
                "",
            ]
        }
        provider.stop()
        return lines
    }

    func seed() -> String {
        var lines = ["vaults:", "  - name: bench-kv", "    secrets:"]
        for i in 0..<max(sharedObjects, 10) { lines.append("      - {name: s-\(i), value: \"value-\(i)-\(String(repeating: "x", count: 64))\"}") }
        lines += ["identities:", "  - name: reader", "    clientId: 77777777-7777-4777-8777-777777777777", "    clientSecret: bench-secret", "    access: {bench-kv: read}"]
        return lines.joined(separator: "\n") + "\n"
    }

    func createClasses(_ client: KubernetesClient, credentials: JSONValue) async throws {
        func parameters(_ objects: [Int]) -> [String: String] {
            ["keyvaultName": "bench-kv", "tenantId": credentials["tenantId"]?.stringValue ?? "", "cloudName": "AzureStackCloud",
             "cloudEnvFileName": credentials["cloudEnvFile"]?.stringValue ?? "",
             "objects": "array:\n" + objects.map { "  - |\n    objectName: s-\($0)\n    objectType: secret\n" }.joined()]
        }
        for ns in 0..<10 {
            let namespace = "ns-\(ns)"
            _ = try await client.create(SecretProviderClass(metadata: ObjectMeta(name: "ten", namespace: namespace), spec: .init(provider: "azure", parameters: parameters(Array(0..<10)))))
            let objects = Array((ns * sharedObjects / 10)..<((ns + 1) * sharedObjects / 10))
            _ = try await client.create(SecretProviderClass(metadata: ObjectMeta(name: "shared", namespace: namespace), spec: .init(provider: "azure", parameters: parameters(objects))))
        }
        // The ten objects again, for a class that may be served from the node's last good content during an outage.
        _ = try await client.create(SecretProviderClass(metadata: ObjectMeta(name: "ten-stale", namespace: "ns-0", annotations: ["akvs.io/serve-stale-on-outage": "1h"]),
                                                        spec: .init(provider: "azure", parameters: parameters(Array(0..<10)))))
    }

    func startProvider(_ work: URL, caFile: String, cacheTTL: Int) throws -> ChildProcess {
        try ChildProcess.start(ChildProcess.sibling("akvs"), [
            "provider", "--endpoint", "unix://\(work.appendingPathComponent("providers/azure.sock").path)", "--healthz-port", "0",
            "--prometheus-port", "0", "--ca-file", caFile, "--object-cache-ttl", "\(cacheTTL)", "--log-level", "error"], readyPrefix: "akvs provider ready")
    }

    func target(_ work: URL, _ pod: String) -> String { work.appendingPathComponent("pods/\(pod)/volumes/kubernetes.io~csi/secrets/mount").path }

    func request(_ work: URL, pod: String, namespace: String, spc: String) -> Csi_V1_NodePublishVolumeRequest {
        kubeletPublishRequest(volumeID: "csi-\(pod)", target: target(work, pod), pod: pod, podUID: "uid-\(pod)", namespace: namespace, spc: spc,
                              secrets: ["clientid": "77777777-7777-4777-8777-777777777777", "clientsecret": "bench-secret"])
    }

    func publish(_ node: Csi_V1_Node.Client<HTTP2ClientTransport.Posix>, _ r: Csi_V1_NodePublishVolumeRequest) async throws {
        try FileManager.default.createDirectory(atPath: (r.targetPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        _ = try await node.nodePublishVolume(r)
    }

    func unpublish(_ node: Csi_V1_Node.Client<HTTP2ClientTransport.Posix>, _ target: String) async throws {
        var r = Csi_V1_NodeUnpublishVolumeRequest()
        r.volumeID = "v"
        r.targetPath = target
        _ = try await node.nodeUnpublishVolume(r)
    }

    func pct(_ sorted: [Double], _ p: Double) -> Double { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
}

/// A TCP port free on loopback now (bound to port 0 and released).
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw BenchError("no free port") }
    return Int(UInt16(bigEndian: address.sin_port))
}

func rss(_ pid: Int32) -> Double {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
    return kb / 1024
}

func fetch(_ http: HTTPClient, url: String) async throws -> String {
    let body = try await http.execute(HTTPClientRequest(url: url), timeout: .seconds(10)).body.collect(upTo: 8 << 20)
    return String(buffer: body)
}

extension AdminCounters {
    func setFaults(latencyMs: Int, outage: Bool = false) async throws {
        var request = HTTPClientRequest(url: base + "/vaults/bench-kv/faults")
        request.method = .PUT
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: #"{"latencyMs": \#(latencyMs), "outage": \#(outage)}"#))
        let response = try await http.execute(request, timeout: .seconds(10))
        guard response.status == .ok || response.status == .noContent else { throw BenchError("setting faults: HTTP \(response.status.code)") }
    }
}
