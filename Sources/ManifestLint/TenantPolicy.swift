import Foundation
import Yams

/// The chart's tenant policy (`policy.*` values), applied offline with the rules its ValidatingAdmissionPolicies apply
/// (`akvs validate --tenant-policy VALUES`), with the same messages. The namespace selector is not applied: every
/// manifest given is checked as if it were in a namespace the policy covers.
public struct TenantPolicy: Sendable, Equatable {
    public var forbidNodePublishSecretRef = true
    public var forbidNodeIdentities = true
    /// Lower-cased: Azure vault names are DNS names.
    public var allowedVaults: [String] = []
    /// Each ending in `/`.
    public var allowedCloudEnvDirs: [String] = []

    /// The spellings Go's ParseBool reads as false (the provider reads `useVMManagedIdentity` with it).
    static let falseSpellings: Set<String> = ["", "0", "f", "F", "FALSE", "false", "False"]

    public init(forbidNodePublishSecretRef: Bool = true, forbidNodeIdentities: Bool = true, allowedVaults: [String] = [], allowedCloudEnvDirs: [String] = []) {
        self.forbidNodePublishSecretRef = forbidNodePublishSecretRef
        self.forbidNodeIdentities = forbidNodeIdentities
        self.allowedVaults = Self.unique(allowedVaults.map { Self.trim($0).lowercased() })
        self.allowedCloudEnvDirs = Self.unique(allowedCloudEnvDirs.map { dir in
            var trimmed = Substring(dir)
            while trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
            return trimmed + "/"
        })
    }

    /// Reads the `policy:` section of a Helm values file (the chart's defaults where a key is absent).
    public init(valuesYAML text: String, source: String) throws(LintInputError) {
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch { throw .policy("\(source): not valid YAML: \(yamlProblem(error).problem)") }
        guard let policy = node?["policy"] else { throw .policy("\(source): has no policy: section (the chart's tenant policy values)") }
        func flag(_ key: String) throws(LintInputError) -> Bool {
            guard let value = policy[key], !value.isNull else { return true }
            guard let text = value.text, let flag = Bool(text) else { throw .policy("\(source): policy.\(key) must be true or false") }
            return flag
        }
        func list(_ key: String) throws(LintInputError) -> [String] {
            guard let value = policy[key], !value.isNull else { return [] }
            guard let items = value.sequence else { throw .policy("\(source): policy.\(key) must be a list") }
            return items.compactMap(\.text)
        }
        self.init(forbidNodePublishSecretRef: try flag("forbidNodePublishSecretRef"), forbidNodeIdentities: try flag("forbidNodeIdentities"),
                  allowedVaults: try list("allowedVaults"), allowedCloudEnvDirs: try list("allowedCloudEnvDirs"))
    }

    static func unique(_ items: [String]) -> [String] { items.reduce(into: []) { if !$0.contains($1) { $0.append($1) } } }

    static let identityHint = "a node's managed identity can be used by every pod on the node; use workload identity instead: spec.parameters.clientID and a service account federated with that identity"
    static let secretRefHint = "no service-principal secret may be kept in the cluster; use workload identity instead: spec.parameters.clientID in the SecretProviderClass and a service account federated with that identity"
    var vaultHint: String { "allowed vaults: \(allowedVaults.joined(separator: ", "))" }
    var directoryHint: String {
        allowedCloudEnvDirs.isEmpty
            ? "no cloud environment file is allowed here (policy.allowedCloudEnvDirs is empty); use spec.parameters.cloudName (AzurePublicCloud, AzureUSGovernmentCloud, AzureChinaCloud)"
            : "allowed folders: \(allowedCloudEnvDirs.joined(separator: ", ")) (an absolute path below one of them, without '..')"
    }

    /// The refused parameters of a parameter map (an SPC's `spec.parameters`, a volume's `volumeAttributes`): key and why.
    func problems(_ parameters: [String: String]) -> [(key: String, message: String)] {
        var found: [(String, String)] = []
        func refuse(_ key: String, _ hint: String) { found.append((key, "'\(parameters[key] ?? "")' is not allowed in this namespace; \(hint)")) }
        if forbidNodeIdentities {
            if let value = parameters["useVMManagedIdentity"], !Self.falseSpellings.contains(Self.trim(value)) { refuse("useVMManagedIdentity", Self.identityHint) }
            if let value = parameters["userAssignedIdentityID"], !Self.trim(value).isEmpty { refuse("userAssignedIdentityID", Self.identityHint) }
        }
        if !allowedVaults.isEmpty, let value = parameters["keyvaultName"], !allowedVaults.contains(Self.trim(value).lowercased()) {
            refuse("keyvaultName", vaultHint)
        }
        if let value = parameters["cloudEnvFileName"], !cloudEnvFileAllowed(value) { refuse("cloudEnvFileName", directoryHint) }
        return found
    }

    /// Empty, or an absolute path without a `..` segment below one of the folders.
    func cloudEnvFileAllowed(_ path: String) -> Bool {
        if Self.trim(path).isEmpty { return true }
        func parentStep(_ text: String) -> Bool { text.split(separator: "/", omittingEmptySubsequences: false).contains("..") }
        return path.hasPrefix("/") && !parentStep(path) && !parentStep(Self.trim(path)) && allowedCloudEnvDirs.contains { path.hasPrefix($0) }
    }

    /// CEL's `trim()`: leading and trailing white space, newlines included.
    static func trim(_ text: String) -> String { text.trimmingCharacters(in: .whitespacesAndNewlines) }
}

/// The tenant policy's rules on the manifests `akvs validate` reads.
struct TenantPolicyRules {
    let policy: TenantPolicy
    let manifest: Manifest
    var findings: Findings

    mutating func checkClass() {
        let parameters = Self.strings(manifest.node["spec"]?["parameters"])
        for problem in policy.problems(parameters) {
            report("spec.parameters.\(problem.key)", "spec.parameters.\(problem.key) \(problem.message)")
        }
    }

    mutating func checkAKVSync() {
        guard !policy.allowedVaults.isEmpty, let vault = manifest.node["spec"]?["keyvaultName"]?.text,
              !policy.allowedVaults.contains(TenantPolicy.trim(vault).lowercased()) else { return }
        report("spec.keyvaultName", "spec.keyvaultName '\(vault)' is not allowed in this namespace; \(policy.vaultHint)")
    }

    mutating func checkWorkload() {
        guard let path = WorkloadRules.podSpecPaths[manifest.kind] else { return }
        var spec: Node? = manifest.node
        for part in path.split(separator: ".") { spec = spec?[String(part)] }
        for (index, volume) in (spec?["volumes"]?.sequence ?? []).enumerated() {
            guard let csi = volume["csi"], csi["driver"]?.text == WorkloadRules.driverName else { continue }
            let name = volume["name"]?.text ?? ""
            let field = "\(path).volumes[\(index)].csi"
            let where_ = "\(path).volumes (volume '\(name)')"
            if policy.forbidNodePublishSecretRef, csi["nodePublishSecretRef"] != nil {
                report("\(field).nodePublishSecretRef", "\(where_): csi.nodePublishSecretRef is not allowed in this namespace; \(TenantPolicy.secretRefHint)")
            }
            for problem in policy.problems(Self.strings(csi["volumeAttributes"])) {
                report("\(field).volumeAttributes.\(problem.key)", "\(where_): csi.volumeAttributes.\(problem.key) \(problem.message)")
            }
        }
    }

    static func strings(_ node: Node?) -> [String: String] {
        var result: [String: String] = [:]
        for (key, value) in node?.mapping ?? [:] { if let k = key.text { result[k] = value.text ?? "" } }
        return result
    }

    private mutating func report(_ field: String, _ message: String) {
        findings.add(manifest.node.locate(field), manifest.frame, field, "tenant policy: " + message)
    }
}
