import CSIAPI
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2

/// kubelet for the chaos run: publishes every volume over the driver's CSI socket and republishes them
/// every few seconds (`requiresRepublish`), through driver restarts.
struct ChaosKubelet: Sendable {
    let socket: String
    let root: URL
    let world: ChaosWorld
    let recorder: ChaosRecorder
    let leaks: LeakScanner

    func target(_ v: ChaosWorld.Volume) -> String { root.appendingPathComponent("pods/pod-\(v.index)/volumes/kubernetes.io~csi/secrets/mount").path }

    func request(_ v: ChaosWorld.Volume) -> Csi_V1_NodePublishVolumeRequest {
        kubeletPublishRequest(volumeID: "csi-chaos-\(v.index)", target: target(v), pod: "pod-\(v.index)", podUID: "uid-chaos-\(v.index)",
                              namespace: v.namespace, spc: v.spc, secrets: Self.credentials)
    }

    static let credentials = ["clientid": ChaosWorld.csiClientID, "clientsecret": ChaosWorld.csiClientSecret]

    /// One round over every volume (8 at a time); returns how many calls failed.
    @discardableResult
    func publishAll(only: [Int]? = nil) async -> [Int] {
        let volumes = only.map { ids in world.volumes.filter { ids.contains($0.index) } } ?? world.volumes
        for v in volumes { try? FileManager.default.createDirectory(atPath: (target(v) as NSString).deletingLastPathComponent, withIntermediateDirectories: true) }
        var failed: [Int] = []
        do {
            try await withGRPCClient(transport: .http2NIOPosix(target: .unixDomainSocket(path: socket), transportSecurity: .plaintext)) { grpc in
                let node = Csi_V1_Node.Client(wrapping: grpc)
                failed = await withTaskGroup(of: Int?.self) { group in
                    var next = 0, out: [Int] = []
                    func add() {
                        guard next < volumes.count else { return }
                        let v = volumes[next]; next += 1
                        let r = request(v)
                        group.addTask {
                            do { _ = try await node.nodePublishVolume(r); return nil } catch {
                                await leaks.error("\(error)")
                                return v.index
                            }
                        }
                    }
                    for _ in 0..<8 { add() }
                    for await result in group {
                        if let f = result { out.append(f) }
                        add()
                    }
                    return out
                }
            }
        } catch {
            await leaks.error("\(error)")
            return volumes.map(\.index)
        }
        return failed
    }

    /// One NodePublishVolume for a pod outside the world's volumes (the restart classes); returns the error, or nil.
    func publish(pod: String, namespace: String, spc: String, target: String) async -> String? {
        try? FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let r = kubeletPublishRequest(volumeID: "csi-\(pod)", target: target, pod: pod, podUID: "uid-\(pod)", namespace: namespace, spc: spc,
                                      secrets: Self.credentials)
        do {
            return try await withGRPCClient(transport: .http2NIOPosix(target: .unixDomainSocket(path: socket), transportSecurity: .plaintext)) { grpc in
                do { _ = try await Csi_V1_Node.Client(wrapping: grpc).nodePublishVolume(r); return nil } catch {
                    await leaks.error("\(error)")
                    return "\(error)"
                }
            }
        } catch {
            return "\(error)"
        }
    }

    /// One NodeUnpublishVolume; what the driver could not unmount is unmounted here.
    func unpublish(target: String, volumeID: String) async {
        _ = try? await withGRPCClient(transport: .http2NIOPosix(target: .unixDomainSocket(path: socket), transportSecurity: .plaintext)) { grpc in
            var r = Csi_V1_NodeUnpublishVolumeRequest()
            r.volumeID = volumeID
            r.targetPath = target
            _ = try? await Csi_V1_Node.Client(wrapping: grpc).nodeUnpublishVolume(r)
        }
        Self.lazyUnmount(target)
    }

    static func lazyUnmount(_ path: String) {
        guard FileManager.default.fileExists(atPath: path) else { return }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/umount")
        p.arguments = ["-l", path]
        p.standardError = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        try? p.run()
        p.waitUntilExit()
    }

    func republish(every interval: Duration) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            let failed = await publishAll()
            if !failed.isEmpty { await recorder.note("NodePublishVolume republish failed (driver or provider down, or vault fault)") }
        }
    }

    func unpublishAll() async {
        _ = try? await withGRPCClient(transport: .http2NIOPosix(target: .unixDomainSocket(path: socket), transportSecurity: .plaintext)) { grpc in
            let node = Csi_V1_Node.Client(wrapping: grpc)
            for v in world.volumes {
                var r = Csi_V1_NodeUnpublishVolumeRequest()
                r.volumeID = "csi-chaos-\(v.index)"
                r.targetPath = target(v)
                _ = try? await node.nodeUnpublishVolume(r)
            }
        }
        // Whatever the driver could not unmount (it may be gone) is unmounted here.
        for v in world.volumes { Self.lazyUnmount(target(v)) }
    }
}
