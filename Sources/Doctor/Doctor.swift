import Kubernetes
import StructuredJSON

/// `akvs doctor`: read-only checklists for a pod, a SecretSync or the cluster (plus vault probes when asked).
public struct Doctor: Sendable {
    let view: ClusterView
    let probe: VaultProbe?

    /// `probe` is nil unless the user passed `--probe`, since probing acts (TokenRequests, vault reads).
    public init(client: KubernetesClient, probe: VaultProbe? = nil) {
        self.view = ClusterView(client: client)
        self.probe = probe
    }

    /// The kubeconfig context's namespace (`default` when it names none).
    public var defaultNamespace: String { view.client.configuration.namespace }

    /// Runs `body`; a read that fails ends the checklist with a ✗ naming what could not be read.
    func report(_ target: String, _ body: (inout DoctorReport) async throws(DoctorError) -> Void) async -> DoctorReport {
        var report = DoctorReport(target: target)
        do { try await body(&report) } catch {
            report.add(.failure("access", "cluster access", error.description,
                                fix: "use a kubeconfig that can read these objects (--kubeconfig FILE), or ask for read access (e.g. kubectl create clusterrolebinding akvs-doctor --clusterrole=view --user=$(kubectl auth whoami -o jsonpath='{.status.userInfo.username}'))"))
        }
        return report
    }

    /// The CSIDriver object: exists, podInfoOnMount, requiresRepublish against the driver's rotation, token audiences.
    func csiDriverChecks(_ install: DriverInstall?, needsAudience: Bool) async throws(DoctorError) -> (driver: JSONValue?, checks: [Check]) {
        guard let driver = try await view.get(Kinds.csiDriver, Names.driver) else {
            return (nil, [.failure("csiDriver", "CSIDriver \(Names.driver)", "not found: kubelet does not know the driver",
                                   fix: "install the driver: helm upgrade --install akvs charts/akvs -n kube-system (it creates the CSIDriver object)")])
        }
        var checks: [Check] = []
        let podInfo = driver[path: ["spec", "podInfoOnMount"]]?.boolValue ?? false
        let republish = driver[path: ["spec", "requiresRepublish"]]?.boolValue ?? false
        let audiences = driver.list("spec", "tokenRequests").compactMap { $0.text("audience") }
        let summary = "podInfoOnMount=\(podInfo), requiresRepublish=\(republish), tokenRequests audiences [\(audiences.joined(separator: ", "))]"
        if !podInfo {
            checks.append(.failure("csiDriver", "CSIDriver \(Names.driver)", summary + ": without podInfoOnMount kubelet sends no pod name, namespace or service account",
                                   fix: "kubectl patch csidriver \(Names.driver) --type merge -p '{\"spec\":{\"podInfoOnMount\":true}}' (or reinstall the chart)"))
        } else if let install, install.rotation, !republish {
            checks.append(.failure("csiDriver", "CSIDriver \(Names.driver)", summary + ": the driver has enableSecretRotation=true but kubelet never republishes, so nothing rotates",
                                   fix: "helm upgrade akvs charts/akvs --reuse-values --set secrets-store-csi-driver.enableSecretRotation=true (the chart sets requiresRepublish with it)"))
        } else {
            checks.append(.ok("csiDriver", "CSIDriver \(Names.driver)", summary))
        }
        if needsAudience {
            if audiences.contains(Names.workloadAudience) {
                checks.append(.ok("identity.tokenRequests", "CSIDriver tokenRequests", "kubelet passes a token for \(Names.workloadAudience)"))
            } else {
                checks.append(.failure("identity.tokenRequests", "CSIDriver tokenRequests",
                                       "no audience \(Names.workloadAudience): kubelet passes no service-account token, so workload identity cannot work",
                                       fix: "helm upgrade akvs charts/akvs --reuse-values --set 'secrets-store-csi-driver.tokenRequests[0].audience=\(Names.workloadAudience)'\n"
                                           + "or: kubectl patch csidriver \(Names.driver) --type merge -p '{\"spec\":{\"tokenRequests\":[{\"audience\":\"\(Names.workloadAudience)\"}]}}'"))
            }
        }
        return (driver, checks)
    }

    /// Event lines: each warning decoded into the check that explains it.
    func eventChecks(_ events: [EventSummary], id: String, about: String) -> [Check] {
        events.filter { $0.type == "Warning" }.prefix(5).map { event in
            let times = event.count > 1 ? " ×\(event.count)" : ""
            let message = EventDecoder.excerpt(event.message)
            if let explanation = EventDecoder.explain(event.message) {
                return .failure(id, "Event \(event.reason)\(times) on \(about)", message,
                                fix: "\(explanation.meaning): see the '\(explanation.check)' line above (fix that, then the event stops)")
            }
            return .failure(id, "Event \(event.reason)\(times) on \(about)", message,
                            fix: "kubectl describe \(about) and the driver's logs: kubectl logs -n kube-system -l \(Names.driverLabel) -c secrets-store")
        }
    }
}
