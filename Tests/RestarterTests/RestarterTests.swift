import Foundation
import Kubernetes
import KubernetesTestServer
import Logging
import Restarter
import SecretsStoreAPI
import StructuredJSON
import Testing

/// A test server, a client, and a running restarter with short windows.
struct World: Sendable {
    let server: KubeTestServer
    let client: KubernetesClient
    let metrics: RestartMetrics

    static let deployments = WorkloadKind.deployment.resourceKind

    static func with(debounce: Duration = .milliseconds(300), maxConcurrent: Int = 10, startController: Bool = true,
                     _ body: (World) async throws -> Void) async throws {
        try await KubeTestServer.with(.init(bookmarkInterval: .milliseconds(200))) { server in
            let client = try KubernetesClient(configuration: KubernetesConfiguration.kubeconfig(yaml: server.kubeconfig(), directory: "/", source: "test"))
            _ = try await client.create(Namespace(name: "apps"))
            let world = World(server: server, client: client, metrics: RestartMetrics())
            let controller = startController ? world.start(debounce: debounce, maxConcurrent: maxConcurrent) : nil
            do { try await body(world) } catch {
                controller?.cancel()
                await client.shutdown()
                throw error
            }
            controller?.cancel()
            _ = await controller?.value
            await client.shutdown()
        }
    }

    func start(debounce: Duration = .milliseconds(300), maxConcurrent: Int = 10) -> Task<Void, Never> {
        var configuration = RestarterConfiguration()
        configuration.debounce = debounce
        configuration.maxConcurrentRestarts = maxConcurrent
        configuration.recheck = .milliseconds(200)
        var quiet = Logger(label: "akvs.restarter.test")
        quiet.logLevel = .critical
        let controller = RestartController(client: client, configuration: configuration, metrics: metrics, logger: quiet)
        return Task { await controller.run() }
    }

    // MARK: objects

    func secret(_ name: String, _ value: String, labels: [String: String]? = nil) async throws {
        let body = Secret(metadata: ObjectMeta(name: name, namespace: "apps", labels: labels), data: ["value": Data(value.utf8)])
        if var existing = try? await client.get(Secret.self, name: name, namespace: "apps") {
            existing.data = body.data
            existing.metadata.labels = labels
            _ = try await client.update(existing)
        } else {
            _ = try await client.create(body)
        }
    }

    /// A workload whose pod template reads Secret `secret` from env and mounts SecretProviderClass `spc`.
    @discardableResult
    func workload(_ name: String, kind: WorkloadKind = .deployment, annotations: [String: String]?, secret: String? = "db", spc: String? = nil,
                  paused: Bool = false) async throws -> JSONValue {
        var container: [String: JSONValue] = ["name": "app", "image": "busybox"]
        if let secret {
            container["env"] = [["name": "PASSWORD", "valueFrom": ["secretKeyRef": ["name": .string(secret), "key": "value"]]]]
        }
        var pod: [String: JSONValue] = ["containers": [.object(container)]]
        if let spc {
            pod["volumes"] = [["name": "secrets", "csi": ["driver": "secrets-store.csi.k8s.io", "readOnly": true,
                                                          "volumeAttributes": ["secretProviderClass": .string(spc)]]]]
        }
        var spec: [String: JSONValue] = ["selector": ["matchLabels": ["app": .string(name)]],
                                         "template": ["metadata": ["labels": ["app": .string(name)]], "spec": .object(pod)]]
        if kind != .daemonSet { spec["replicas"] = 2 }
        if kind == .statefulSet { spec["serviceName"] = .string(name) }
        if paused { spec["paused"] = true }
        var metadata: [String: JSONValue] = ["name": .string(name), "namespace": "apps"]
        if let annotations { metadata["annotations"] = .object(annotations.mapValues { .string($0) }) }
        return try await client.create(kind.resourceKind, namespace: "apps", body: [
            "apiVersion": "apps/v1", "kind": .string(kind.rawValue), "metadata": .object(metadata), "spec": .object(spec)])
    }

    func get(_ name: String, kind: WorkloadKind = .deployment) async throws -> JSONValue {
        try #require(try await client.object(kind.resourceKind, name: name, namespace: "apps"))
    }

    func restartedAt(_ name: String, kind: WorkloadKind = .deployment) async throws -> String? {
        try await get(name, kind: kind)[path: ["spec", "template", "metadata", "annotations", "kubectl.kubernetes.io/restartedAt"]]?.stringValue
    }

    func recorded(_ name: String, kind: WorkloadKind = .deployment) async throws -> String? {
        try await get(name, kind: kind)[path: ["metadata", "annotations", "akvs.io/restart-inputs"]]?.stringValue
    }

    func events(_ reason: String) async -> [Event] {
        ((try? await client.listAll(Event.self, namespace: "apps"))?.items ?? []).filter { $0.reason == reason }
    }

    func restarts(_ name: String, kind: WorkloadKind = .deployment) -> Int {
        let line = metrics.render().split(separator: "\n").first { $0.hasPrefix("akvs_restarts_total{") && $0.contains("name=\"\(name)\"") && $0.contains("kind=\"\(kind.rawValue)\"") }
        return line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
    }

    func eventually(_ what: String, timeout: Duration = .seconds(10), _ check: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if (try? await check()) == true { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("timed out waiting for: \(what)")
        throw CancellationError()
    }

    func status(_ name: String, kind: WorkloadKind = .deployment, _ status: JSONValue) async throws {
        _ = try await client.patch(kind.resourceKind, name: name, namespace: "apps", .merge(["status": status]), subresource: "status")
    }
}

@Suite(.serialized) struct RestarterTests {
    static let auto = ["reloader.stakater.com/auto": "true"]

    @Test func aChangedSecretRestartsOnceAndANoOpWriteNever() async throws {
        try await World.with { w in
            try await w.secret("db", "v1")
            try await w.workload("web", annotations: Self.auto)
            try await w.workload("plain", annotations: nil)
            // First sight: the inputs are recorded, nothing restarts.
            try await w.eventually("the baseline is recorded") { try await w.recorded("web") != nil }
            #expect(try await w.restartedAt("web") == nil)
            #expect(try await w.recorded("plain") == nil)
            // A write of the same data (labels only) is no change.
            try await w.secret("db", "v1", labels: ["touched": "yes"])
            try await Task.sleep(for: .milliseconds(600))
            #expect(try await w.restartedAt("web") == nil)
            // New data: one restart, after the debounce window, recorded on the workload and its template.
            try await w.secret("db", "v2")
            try await w.eventually("web restarts") { try await w.restartedAt("web") != nil }
            let restarted = try await w.get("web")
            #expect(restarted[path: ["spec", "template", "metadata", "annotations", "akvs.io/restarted-for"]]?.stringValue?.count == 16)
            #expect(try await w.recorded("web")?.contains("Secret/db") == true)
            try await w.eventually("a Restarted Event naming the Secret") {
                await w.events("Restarted").contains { $0.note == "Restarted: Secret db changed" && $0.regarding?.kind == "Deployment" }
            }
            try await Task.sleep(for: .milliseconds(600))
            #expect(w.restarts("web") == 1 && w.restarts("plain") == 0)
            #expect(try await w.restartedAt("plain") == nil)
            let text = w.metrics.render()
            #expect(text.contains("akvs_restart_watched_workloads 1") && !text.contains("v2"))
        }
    }

    @Test func changesWithinTheWindowGiveOneRestartAndAControllerRestartNone() async throws {
        // A 2 s window: the four changes below land inside it even when a loaded machine slows each write.
        try await World.with(debounce: .seconds(2), startController: false) { w in
            try await w.secret("db", "v1")
            try await w.secret("api", "a1")
            try await w.workload("web", annotations: ["secret.reloader.stakater.com/reload": "db, api"], secret: nil)
            var controller = w.start(debounce: .seconds(2))
            try await w.eventually("the baseline is recorded") { try await w.recorded("web") != nil }
            for value in ["v2", "v3", "v4"] { try await w.secret("db", value); try await Task.sleep(for: .milliseconds(100)) }
            try await w.secret("api", "a2")
            try await w.eventually("web restarts") { try await w.restartedAt("web") != nil }
            try await Task.sleep(for: .milliseconds(2500))
            #expect(w.restarts("web") == 1)
            #expect(w.metrics.render().contains("akvs_restart_changes_debounced_total"))
            let first = try await w.restartedAt("web")
            // A new controller (a restart, a failover) restarts nothing for the same data...
            controller.cancel()
            _ = await controller.value
            let fresh = World(server: w.server, client: w.client, metrics: RestartMetrics())
            controller = fresh.start(debounce: .milliseconds(300))
            try await Task.sleep(for: .milliseconds(1000))
            #expect(try await w.restartedAt("web") == first && fresh.restarts("web") == 0)
            // ...and once for a change made while it was down.
            controller.cancel()
            _ = await controller.value
            try await w.secret("db", "v5")
            controller = fresh.start(debounce: .milliseconds(300))
            try await w.eventually("web restarts for the change made while down") { try await w.restartedAt("web") != first }
            #expect(fresh.restarts("web") == 1)
            controller.cancel()
            _ = await controller.value
        }
    }

    @Test func noRestartDuringARolloutNorOfAPausedDeployment() async throws {
        try await World.with { w in
            try await w.secret("db", "v1")
            let web = try await w.workload("web", annotations: Self.auto)
            let generation = web[path: ["metadata", "generation"]]?.numberValue ?? 1
            try await w.workload("held", annotations: Self.auto, paused: true)
            try await w.eventually("baselines") {
                let web = try await w.recorded("web"), held = try await w.recorded("held")
                return web != nil && held != nil
            }
            // web's previous rollout is still going: two of two replicas not yet updated.
            try await w.status("web", ["observedGeneration": .number(generation), "replicas": 2, "updatedReplicas": 1, "availableReplicas": 1])
            try await w.secret("db", "v2")
            try await Task.sleep(for: .milliseconds(900))
            #expect(try await w.restartedAt("web") == nil)
            #expect(w.metrics.render().contains(#"akvs_restart_waits_total{reason="rollout"}"#))
            try await w.eventually("a RestartPaused Event on the paused Deployment") {
                await w.events("RestartPaused").contains { $0.regarding?.name == "held" }
            }
            #expect(try await w.restartedAt("held") == nil)
            // The rollout finishes: one restart. The paused one is resumed: one restart.
            try await w.status("web", ["observedGeneration": .number(generation), "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2])
            try await w.eventually("web restarts once its rollout is done") { try await w.restartedAt("web") != nil }
            _ = try await w.client.patch(World.deployments, name: "held", namespace: "apps", .merge(["spec": ["paused": false]]))
            try await w.eventually("held restarts once resumed") { try await w.restartedAt("held") != nil }
            // The counter follows the patch's reply, which the watch can beat: wait for it, then check it stays at one.
            try await w.eventually("both restarts counted") { w.restarts("web") == 1 && w.restarts("held") == 1 }
            try await Task.sleep(for: .milliseconds(300))
            #expect(w.restarts("web") == 1 && w.restarts("held") == 1)
            #expect(await w.events("RestartPaused").filter { $0.regarding?.name == "held" }.count == 1)
        }
    }

    @Test func atMostTheLimitOfRolloutsRunAtOnce() async throws {
        try await World.with(maxConcurrent: 1) { w in
            try await w.secret("db", "v1")
            for name in ["a", "b"] {
                let made = try await w.workload(name, annotations: Self.auto)
                let generation = made[path: ["metadata", "generation"]]?.numberValue ?? 1
                try await w.status(name, ["observedGeneration": .number(generation), "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2])
            }
            try await w.eventually("baselines") {
                let a = try await w.recorded("a"), b = try await w.recorded("b")
                return a != nil && b != nil
            }
            try await w.secret("db", "v2")
            try await w.eventually("one of them restarts") {
                let a = try await w.restartedAt("a"), b = try await w.restartedAt("b")
                return a != nil || b != nil
            }
            try await Task.sleep(for: .milliseconds(800))
            // The restarted one's rollout has not been observed (status behind): the other waits for the slot.
            let first = try await w.restartedAt("a") != nil ? "a" : "b", second = first == "a" ? "b" : "a"
            #expect(try await w.restartedAt(second) == nil)
            #expect(w.metrics.render().contains(#"akvs_restart_waits_total{reason="limit"}"#))
            let generation = try await w.get(first)[path: ["metadata", "generation"]]?.numberValue ?? 0
            try await w.status(first, ["observedGeneration": .number(generation), "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2])
            try await w.eventually("the other restarts once the first rollout is done") { try await w.restartedAt(second) != nil }
        }
    }

    @Test func aRotationOfAMountedClassRestartsOnceForItsVersions() async throws {
        try await World.with { w in
            for kind in [WorkloadKind.statefulSet, .daemonSet] {
                try await w.workload("mounts-\(kind.rawValue.lowercased())", kind: kind, annotations: ["secretproviderclass.reloader.stakater.com/reload": "vault"], secret: nil, spc: "vault")
            }
            try await w.workload("auto", annotations: Self.auto, secret: nil, spc: "vault")
            func status(_ pod: String, _ version: String) -> SecretProviderClassPodStatus {
                SecretProviderClassPodStatus(metadata: ObjectMeta(name: "\(pod)-apps-vault", namespace: "apps"),
                                             status: .init(podName: pod, secretProviderClassName: "vault", mounted: true, targetPath: "/t/\(pod)",
                                                           objects: [.init(id: "secret/db", version: version)]))
            }
            let made = [try await w.client.create(status("p1", "v1")), try await w.client.create(status("p2", "v1"))]
            try await w.eventually("baselines") { try await w.recorded("auto") != nil }
            // A new pod's first mount is no rotation.
            _ = try await w.client.create(status("p3", "v1"))
            try await Task.sleep(for: .milliseconds(600))
            #expect(try await w.restartedAt("auto") == nil)
            // p1's mount rotates to v2: every workload mounting the class restarts once; p2 rotating to v2 too adds nothing.
            for (index, pod) in made.enumerated() {
                var rotated = try await w.client.get(SecretProviderClassPodStatus.self, name: pod.metadata.name ?? "", namespace: "apps")
                rotated.status?.objects = [.init(id: "secret/db", version: "v2")]
                _ = try await w.client.update(rotated)
                if index == 0 { try await w.eventually("auto restarts") { try await w.restartedAt("auto") != nil } }
            }
            try await w.eventually("the StatefulSet and the DaemonSet restart") {
                let set = try await w.restartedAt("mounts-statefulset", kind: .statefulSet), daemons = try await w.restartedAt("mounts-daemonset", kind: .daemonSet)
                return set != nil && daemons != nil
            }
            try await Task.sleep(for: .milliseconds(800))
            #expect(w.restarts("auto") == 1 && w.restarts("mounts-statefulset", kind: .statefulSet) == 1 && w.restarts("mounts-daemonset", kind: .daemonSet) == 1)
            try await w.eventually("the Event names the class") {
                await w.events("Restarted").contains { ($0.note ?? "").contains("SecretProviderClass vault rotated") }
            }
        }
    }

    @Test func triggersReadReloaderAnnotationsAndTheTemplatesReferences() throws {
        #expect(Triggers(annotations: nil) == nil && Triggers(annotations: ["reloader.stakater.com/auto": "false"]) == nil)
        let named = try #require(Triggers(annotations: ["secret.reloader.stakater.com/reload": " a, b ,", "akvs.io/restart-debounce": "2m"]))
        #expect(named.secrets == ["a", "b"] && named.debounce == .seconds(120) && !named.auto)
        let auto = try #require(Triggers(annotations: ["reloader.stakater.com/auto": "True"]))
        let refs = WorkloadBody.References(secrets: ["env", "vol"], classes: ["kv"])
        #expect(auto.inputs(refs) == [.secret("env"), .secret("vol"), .secretProviderClass("kv")])
        #expect(named.inputs(refs) == [.secret("a"), .secret("b")])
        #expect(RecordedInputs.decode(RecordedInputs.encode([.secret("db"): "0123456789abcdef", .secretProviderClass("kv"): "fedcba9876543210"]))
                == [.secret("db"): "0123456789abcdef", .secretProviderClass("kv"): "fedcba9876543210"])
        #expect(RecordedInputs.decode("not json") == nil)
    }
}
