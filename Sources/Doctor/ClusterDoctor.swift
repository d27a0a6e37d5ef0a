import StructuredJSON

extension Doctor {
    static let crds: [(name: String, versions: [String], role: String)] = [
        ("secretproviderclasses.secrets-store.csi.x-k8s.io", ["v1"], "driver"),
        ("secretproviderclasspodstatuses.secrets-store.csi.x-k8s.io", ["v1"], "driver"),
        ("secretsyncs.secret-sync.x-k8s.io", ["v1alpha1"], "sync"),
    ]

    /// `akvs doctor cluster`: version, issuer, CRDs, the roles' settings and readiness, admission policies, each node's registration.
    public func cluster() async -> DoctorReport {
        await report("cluster") { (report: inout DoctorReport) throws(DoctorError) in
            let version = try await view.document("/version")
            let minor = Int((version.text("minor") ?? "").filter(\.isNumber)) ?? 0
            let gitVersion = version.text("gitVersion") ?? "?"
            report.add(version.text("major") == "1" && minor >= 27
                ? .ok("cluster.version", "Kubernetes", gitVersion)
                : .failure("cluster.version", "Kubernetes", "\(gitVersion): older than 1.27", fix: "upgrade the cluster to 1.27 or later (TokenRequest audiences and ValidatingAdmissionPolicy need it)"))
            if let issuer = await view.issuer() {
                report.add(.ok("cluster.issuer", "service-account issuer", "\(issuer) (federated credentials must name it)"))
            } else {
                report.add(.warning("cluster.issuer", "service-account issuer", "/.well-known/openid-configuration cannot be read",
                                    fix: "on AKS: az aks show -n <cluster> -g <group> --query oidcIssuerProfile.issuerUrl -o tsv (enable with --enable-oidc-issuer)"))
            }
            let drivers = try await DriverInstall.find(view)
            let syncs = try await SyncInstall.find(view)
            for crd in Self.crds where crd.role == "driver" || !syncs.isEmpty {
                report.add(try await crdCheck(crd.name, versions: crd.versions))
            }
            if drivers.isEmpty && syncs.isEmpty {
                report.add(.failure("install", "akvs", "neither a driver DaemonSet (\(Names.driverLabel)) nor a sync controller Deployment (\(Names.syncLabel)) is installed",
                                    fix: "helm upgrade --install akvs charts/akvs -n kube-system"))
            }
            for driver in drivers {
                report.add(Self.rollout(driver.daemonSet, id: "driver", role: "driver DaemonSet", settings: driver.settings))
                if !driver.inProcessProvider {
                    let providers = try await view.list(Kinds.daemonSet, labels: Names.providerLabel)
                    report.add(providers.isEmpty
                        ? .failure("provider", "Azure provider DaemonSet", "none (label \(Names.providerLabel)) while the driver expects a separate provider",
                                   fix: "helm upgrade akvs charts/akvs --reuse-values (or --set secrets-store-csi-driver.azureProvider.mode=in-process)")
                        : Self.rollout(providers[0], id: "provider", role: "Azure provider DaemonSet", settings: "socket under the driver's provider volume"))
                }
            }
            if !drivers.isEmpty { report.add(try await csiDriverChecks(drivers.first, needsAudience: false).checks) }
            for sync in syncs {
                report.add(Self.rollout(sync.deployment, id: "sync", role: "sync controller Deployment", settings: sync.settings))
                report.add(try await policyChecks())
            }
            if !drivers.isEmpty {
                for node in try await view.list(Kinds.node) {
                    let name = node.text("metadata", "name") ?? ""
                    let windows = node.text("metadata", "labels", "kubernetes.io/os") == "windows"
                    let csiNode = try await view.get(Kinds.csiNode, name)
                    let registered = csiNode?.list("spec", "drivers").contains { $0.text("name") == Names.driver } ?? false
                    if registered {
                        report.add(.ok("node.csiNode", "node \(name)", "\(Names.driver) registered"))
                    } else if windows {
                        report.add(.warning("node.csiNode", "node \(name)", "Windows node: akvs runs on Linux nodes only, so pods with secrets-store volumes must not be scheduled here"))
                    } else {
                        report.add(.failure("node.csiNode", "node \(name)", "\(Names.driver) not registered with kubelet",
                                            fix: "akvs doctor pod <a pod on \(name)> shows the driver pod there; check linux.kubeletRootDir matches the node's kubelet --root-dir"))
                    }
                }
            }
        }
    }

    func crdCheck(_ name: String, versions: [String]) async throws(DoctorError) -> Check {
        guard let crd = try await view.get(Kinds.crd, name) else {
            return .failure("crd", "CRD \(name)", "not installed", fix: "helm upgrade --install akvs charts/akvs -n kube-system (the chart carries the CRDs)")
        }
        let served = crd.list("spec", "versions").filter { $0["served"]?.boolValue == true }.compactMap { $0.text("name") }
        let storage = crd.list("spec", "versions").first { $0["storage"]?.boolValue == true }?.text("name") ?? "?"
        let missing = versions.filter { !served.contains($0) }
        if !missing.isEmpty {
            return .failure("crd", "CRD \(name)", "serves [\(served.joined(separator: ", "))], not \(missing.joined(separator: ", "))",
                            fix: "kubectl apply --server-side -f charts/akvs/crds/ (upgrade the CRDs; helm does not upgrade them by itself)")
        }
        return .ok("crd", "CRD \(name)", "serves \(served.joined(separator: ", ")), storage \(storage)")
    }

    static func rollout(_ object: JSONValue, id: String, role: String, settings: String) -> Check {
        let status = object["status"]
        let isDaemonSet = object.text("kind") == "DaemonSet"
        let wanted = Int(status?[isDaemonSet ? "desiredNumberScheduled" : "replicas"]?.numberValue ?? object[path: ["spec", "replicas"]]?.numberValue ?? 0)
        let ready = Int(status?[isDaemonSet ? "numberReady" : "readyReplicas"]?.numberValue ?? 0)
        let subject = "\(role) \(object.objectName)"
        if ready >= wanted && (ready > 0 || isDaemonSet) {
            return .ok(id, subject, "\(ready)/\(wanted) Ready; \(settings)")
        }
        let namespace = object.text("metadata", "namespace") ?? ""
        let name = object.text("metadata", "name") ?? ""
        return .failure(id, subject, "\(ready)/\(wanted) Ready; \(settings)",
                        fix: "kubectl rollout status \(isDaemonSet ? "daemonset" : "deployment") -n \(namespace) \(name); kubectl describe \(isDaemonSet ? "daemonset" : "deployment") -n \(namespace) \(name)")
    }

    /// The chart's ValidatingAdmissionPolicies (only the controller may write synced Secrets), each with a binding.
    func policyChecks() async throws(DoctorError) -> [Check] {
        let policies = try await view.list(Kinds.policy).filter { ($0.text("metadata", "name") ?? "").contains("secrets-store-sync-controller") || $0.text("metadata", "labels", "app") == "secrets-store-sync-controller" }
        guard !policies.isEmpty else {
            return [.warning("admission", "admission policies", "none found for the sync controller: anyone allowed to write Secrets can change synced ones",
                             fix: "helm upgrade akvs charts/akvs --reuse-values --set syncController.validatingAdmissionPolicies.applyPolicies=true")]
        }
        let bindings = try await view.list(Kinds.policyBinding)
        return policies.map { policy in
            let name = policy.text("metadata", "name") ?? ""
            let bound = bindings.contains { $0.text("spec", "policyName") == name }
            return bound ? .ok("admission", "ValidatingAdmissionPolicy \(name)", "present and bound")
                : .failure("admission", "ValidatingAdmissionPolicy \(name)", "present but no binding, so it is not enforced",
                           fix: "helm upgrade akvs charts/akvs --reuse-values (the chart creates \(name)-binding)")
        }
    }
}
