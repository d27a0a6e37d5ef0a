import Foundation
import Yams

/// `akvs validate`: an offline lint of SecretProviderClass, SecretSync, AKVSync and pod/workload manifests with
/// the rules of the provider, the CSI driver, the sync controller and the chart's CRD schemas.
public struct ManifestLinter: Sendable {
    /// One manifest file: the name to print and its text.
    public struct Source: Sendable {
        public var name: String
        public var text: String
        /// A text to lint under `name`.
        public init(name: String, text: String) { self.name = name; self.text = text }
    }

    /// Also report what Azure's Secret Store extension refuses (`--for sync`).
    public var forSync: Bool
    /// Also report what the chart's tenant policy refuses (`--tenant-policy VALUES`).
    public var tenantPolicy: TenantPolicy?
    private let catalog = CRDCatalog()

    /// A linter for the CSI driver (default) or, with `forSync`, for the Secret Store extension too.
    public init(forSync: Bool = false, tenantPolicy: TenantPolicy? = nil) { self.forSync = forSync; self.tenantPolicy = tenantPolicy }

    /// Lints the files (DIRs walked for *.yaml, *.yml, *.json) at `paths`.
    public func lint(paths: [String]) throws(LintInputError) -> LintReport {
        lint(try ManifestFiles.collect(paths))
    }

    /// Lints manifest texts together (cross-document checks see all of them).
    public func lint(_ sources: [Source]) -> LintReport {
        var report = LintReport(files: sources.count)
        var manifests: [Manifest] = []
        var findings: [String: Findings] = [:]
        for source in sources {
            var fileFindings = Findings(file: source.name)
            let frame = TextFrame(file: source.text)
            var failure: (any Error)?
            do {
                var documents = try Yams.compose_all(yaml: source.text)
                while let document = documents.next() {
                    report.documents += 1
                    manifests += Self.objects(in: document, file: source.name, frame: frame)
                }
                failure = documents.error
            } catch { failure = error }
            if let failure {
                let (mark, problem) = yamlProblem(failure)
                fileFindings.add(at: frame.position(mark), "(yaml)", "\(problem); fix the YAML syntax (the documents before this point were checked)")
            }
            findings[source.name] = fileFindings
        }

        // Classes first: pods and SecretSyncs of any file may refer to them.
        var classes: [ClassInfo] = []
        var secrets: [(manifest: Manifest, keys: Set<String>)] = []
        var checked: [(Manifest, ResourceRole)] = []
        for manifest in manifests {
            let role = self.role(manifest)
            guard role != .other else { continue }
            report.checked += 1
            var found = findings[manifest.file] ?? Findings(file: manifest.file)
            let schemaOK = checkAPI(manifest, role: role, into: &found)
            if let tenantPolicy {
                var rules = TenantPolicyRules(policy: tenantPolicy, manifest: manifest, findings: found)
                switch role {
                case .secretProviderClass: rules.checkClass()
                case .akvSync: rules.checkAKVSync()
                case .workload: rules.checkWorkload()
                default: break
                }
                found = rules.findings
            }
            if role == .secretProviderClass, schemaOK {
                var rules = ClassRules(manifest: manifest, findings: found)
                if let info = rules.check() { classes.append(info) }
                found = rules.findings
                if forSync { checkClassForSync(manifest, into: &found) }
            }
            if role == .secret {
                let keys = Set((manifest.node["data"]?.mapping ?? [:]).compactMap { $0.key.text } + (manifest.node["stringData"]?.mapping ?? [:]).compactMap { $0.key.text })
                secrets.append((manifest, keys))
            }
            if schemaOK { checked.append((manifest, role)) }
            findings[manifest.file] = found
        }
        for (manifest, role) in checked {
            var found = findings[manifest.file] ?? Findings(file: manifest.file)
            switch role {
            case .secretSync:
                var rules = SyncRules(manifest: manifest, classes: classes, findings: found); rules.checkSecretSync(); found = rules.findings
            case .akvSync:
                var rules = SyncRules(manifest: manifest, classes: classes, secretSyncs: checked.filter { $0.1 == .secretSync }.map(\.0), findings: found)
                rules.checkAKVSync(); found = rules.findings
            case .workload:
                var rules = WorkloadRules(manifest: manifest, classes: classes, secrets: secrets, forSync: forSync, findings: found)
                rules.check(); found = rules.findings
            default: break
            }
            findings[manifest.file] = found
        }
        report.diagnostics = sources.flatMap { source in
            (findings[source.name]?.items ?? []).sorted { ($0.line, $0.column, $0.field) < ($1.line, $1.column, $1.field) }
        }
        return report
    }

    enum ResourceRole { case secretProviderClass, secretSync, akvSync, otherCustomResource, workload, secret, other }

    private func role(_ manifest: Manifest) -> ResourceRole {
        if catalog.defines(group: manifest.group) {
            switch manifest.kind {
            case "SecretProviderClass": return .secretProviderClass
            case "SecretSync": return .secretSync
            case "AKVSync": return .akvSync
            default: return .otherCustomResource
            }
        }
        if let group = WorkloadRules.groups[manifest.kind], group == manifest.group { return .workload }
        if manifest.kind == "Secret", manifest.group.isEmpty { return .secret }
        return .other
    }

    /// apiVersion, kind and metadata, and the CRD schema for custom resources; false when the object is not one
    /// the semantic rules can read (unknown kind or version, no name).
    private func checkAPI(_ manifest: Manifest, role: ResourceRole, into findings: inout Findings) -> Bool {
        let node = manifest.node
        var ok = true
        if node["metadata"]?.mapping == nil || (manifest.name ?? "").isEmpty && node["metadata"]?["generateName"]?.text == nil {
            findings.add(node.locate("metadata.name"), manifest.frame, "metadata.name", "is required: name the \(manifest.kind)")
            ok = role == .workload || role == .secret
        }
        guard [.secretProviderClass, .secretSync, .akvSync, .otherCustomResource].contains(role) else { return ok }
        guard let definition = catalog.definition(group: manifest.group, kind: manifest.kind) else {
            findings.add(node.locate("kind"), manifest.frame, "kind", "\(manifest.kind) is not a kind of \(manifest.group); akvs defines SecretProviderClass, SecretProviderClassPodStatus, SecretSync and AKVSync")
            return false
        }
        guard let version = definition.versions.first(where: { $0.name == manifest.version && $0.served }) else {
            findings.add(node.locate("apiVersion"), manifest.frame, "apiVersion",
                         "\(manifest.apiVersion) is not served; use \(definition.group)/\(definition.preferred ?? "v1")")
            return false
        }
        if let warning = version.deprecationWarning {
            findings.add(node.locate("apiVersion"), manifest.frame, "apiVersion", warning, .warning)
        }
        guard let schema = version.schema else { return ok }
        var validator = SchemaValidator(frame: manifest.frame, findings: Findings(file: manifest.file))
        validator.check(node, schema, path: "")
        findings.append(validator.findings)
        // Schema errors do not stop the semantic rules: they run on whatever still decodes as the typed resource.
        return ok
    }

    private func checkClassForSync(_ manifest: Manifest, into findings: inout Findings) {
        guard manifest.node["spec"]?["provider"]?.text == "azure" else { return }
        var parameters: [String: String] = [:]
        for (key, value) in manifest.node["spec"]?["parameters"]?.mapping ?? [:] { if let k = key.text { parameters[k] = value.text ?? "" } }
        for problem in SecretStoreExtensionRules.classProblems(parameters) {
            let field = "spec.parameters.\(problem.parameter)"
            findings.add(manifest.node.locate(field), manifest.frame, field, problem.reason)
        }
        if let objects = manifest.node["spec"]?["secretObjects"]?.sequence, !objects.isEmpty {
            findings.add(manifest.node.locate("spec.secretObjects"), manifest.frame, "spec.secretObjects",
                         "the Secret Store extension does not read secretObjects: write a SecretSync per Secret (akvs migrate translate does)", .warning)
        }
    }

    /// The objects of one YAML document: itself, or the items of a `kind: List`.
    static func objects(in document: Node, file: String, frame: TextFrame) -> [Manifest] {
        guard document.mapping != nil else { return [] }
        if document["kind"]?.text == "List", let items = document["items"]?.sequence {
            return items.flatMap { objects(in: $0, file: file, frame: frame) }
        }
        return [Manifest(file: file, frame: frame, node: document)]
    }
}
