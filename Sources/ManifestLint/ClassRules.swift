import AzureProvider
import CSIDriver
import SecretsStoreAPI
import Yams

/// What the other documents need to know about a SecretProviderClass of the given files.
struct ClassInfo {
    let manifest: Manifest
    let provider: String
    /// Nil when the identity parameters are invalid (already reported).
    let identity: MountParameters.IdentityMode?
    /// Every file the provider writes for this class; nil when `objects` has errors (already reported).
    let filePaths: [String]?
}

/// A SecretProviderClass as the CSI driver and the Azure provider read it: the driver's class checks, then
/// `MountParameters` and `KeyVaultObject` on the parameters, with positions inside the `objects` string.
struct ClassRules {
    let manifest: Manifest
    var findings: Findings

    mutating func check() -> ClassInfo? {
        guard let spc = manifest.decode(SecretProviderClass.self) else { return nil }
        let root = manifest.node
        let provider: String
        let parameters: [String: String]
        do {
            (provider, parameters) = try PodVolume.usableClass(spc, namespace: manifest.namespace ?? "", name: manifest.name ?? "")
        } catch {
            let field = (spc.spec.provider ?? "").isEmpty ? "spec.provider" : "spec.parameters"
            report(root.locate(field), field, withoutField(Self.reason(error), field))
            return nil
        }
        // akvs' own settings (the driver reads them whatever the provider): an annotation or a parameter of the same name.
        let settings = ClassSettings.values(spc)
        for problem in ClassSettings.problems(settings) {
            let field = settings[problem.key]?.source == .parameter ? "spec.parameters.\(problem.key)" : "metadata.annotations.\(problem.key)"
            report(root.locate(field), field, "'\(settings[problem.key]?.text ?? "")' \(problem.reason)")
        }
        for key in Set((spc.metadata.annotations ?? [:]).keys).union((spc.spec.parameters ?? [:]).keys).sorted()
        where key.hasPrefix("akvs.io/") && !ClassSettings.keys.contains(key) {
            let field = spc.metadata.annotations?[key] != nil ? "metadata.annotations.\(key)" : "spec.parameters.\(key)"
            let near = ClassSettings.keys.first { $0.hasPrefix(key) || key.hasPrefix($0) }
                ?? ClassSettings.keys.min { SchemaValidator.distance($0, key) < SchemaValidator.distance($1, key) } ?? ""
            report(root.locate(field), field, "is not an akvs setting and is ignored; did you mean \(near)? (known: \(ClassSettings.keys.joined(separator: ", ")))", .warning)
        }
        guard provider == "azure" else { return ClassInfo(manifest: manifest, provider: provider, identity: nil, filePaths: nil) }

        func parameter(_ error: ProviderError) {
            guard case .parameter(let name, let reason) = error else { report(root.locate("spec.parameters"), "spec.parameters", error.description); return }
            let first = String(name.split(separator: ",").first ?? "")
            let key = first == "tenantId" && parameters["tenantID"] != nil ? "tenantID" : first
            // Provider reasons may start with the parameter's own name, which the field path already shows.
            report(root.locate("spec.parameters.\(key)"), "spec.parameters.\(key)", reason.hasPrefix("\(first) ") ? String(reason.dropFirst(first.count + 1)) : reason)
        }
        do { _ = try MountParameters.keyvaultName(parameters) } catch { parameter(error) }
        do { _ = try MountParameters.tenantID(parameters) } catch { parameter(error) }
        do { try MountParameters.checkCloudName(parameters) } catch { parameter(error) }
        var identity: MountParameters.IdentityMode?
        do { identity = try MountParameters.identityMode(parameters) } catch { parameter(error) }
        let files = checkObjects(parameters["objects"] ?? "")
        // The driver's secretObjects sync reads the mounted files; their names are known once objects parse.
        if let files {
            for (index, object) in (spc.spec.secretObjects ?? []).enumerated() {
                guard let problem = SecretObjectSync.problem(object, index: index, files: Set(files)) else { continue }
                report(root.locate(problem.field), problem.field, withoutField(problem.reason, problem.field))
            }
        }
        return ClassInfo(manifest: manifest, provider: provider, identity: identity, filePaths: files)
    }

    /// Checks `objects` entry by entry; returns the files written, or nil after reporting errors.
    private mutating func checkObjects(_ text: String) -> [String]? {
        let field = "spec.parameters.objects"
        let node = manifest.node.locate(field)
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            report(node, field, "is not set; list the secrets, keys and certificates to mount under 'array:'")
            return nil
        }
        let frame: TextFrame = if case .scalar(let scalar) = node { manifest.frame.embedded(scalar) } else { manifest.frame }
        let items: [Node]
        do { items = try KeyVaultObject.listItems(text) } catch {
            do { _ = try Yams.compose(yaml: text) } catch {
                let (mark, problem) = yamlProblem(error)
                findings.add(at: mark.map { frame.position($0) } ?? manifest.frame.position(node.mark), field,
                             "is not valid YAML: \(problem); it must look like 'array:' followed by '- |' items")
                return nil
            }
            report(node, field, Self.reason(error))
            return nil
        }
        var parsed: [(index: Int, object: KeyVaultObject)] = []
        for (index, item) in items.enumerated() {
            do { parsed.append((index, try KeyVaultObject.parse(item, index: index))) } catch {
                reportObject(error, item: item, index: index, frame: frame)
            }
        }
        guard parsed.count == items.count else { return nil }
        do { try KeyVaultObject.checkUniqueFiles(parsed.map(\.object)) } catch {
            if case .object(let i, _, _, _) = error { reportObject(error, item: items[parsed[i].index], index: parsed[i].index, frame: frame) }
            return nil
        }
        return parsed.flatMap(\.object.filePaths)
    }

    /// Places an `objects` entry's error at its field inside the entry (a YAML document in a string, or a map).
    private mutating func reportObject(_ error: ProviderError, item: Node, index: Int, frame: TextFrame) {
        let base = "spec.parameters.objects.array[\(index)]"
        guard case .object(_, _, let field, let reason) = error else { findings.add(item, frame, base, error.description); return }
        let path = field == "(item)" ? base : "\(base).\(field)"
        var target: (Node, TextFrame) = (item, frame)
        if case .scalar(let scalar) = item {
            let inner = frame.embedded(scalar)
            do {
                if let document = try Yams.compose(yaml: scalar.string) {
                    target = (field == "(item)" ? document : document.locate(field), inner)
                }
            } catch {
                let (mark, problem) = yamlProblem(error)
                findings.add(at: mark.map { inner.position($0) } ?? frame.position(item.mark), path,
                             "is not valid YAML: \(problem); write one 'field: value' per line")
                return
            }
        } else if field != "(item)" {
            target = (item.locate(field), frame)
        }
        findings.add(target.0, target.1, path, reason)
    }

    private mutating func report(_ node: Node?, _ field: String, _ message: String, _ severity: Diagnostic.Severity = .error) {
        findings.add(node, manifest.frame, field, message, severity)
    }

    /// The reason of a driver or provider error, without the class name the position already gives.
    static func reason(_ error: any Error) -> String {
        switch error {
        case let PublishError.spcInvalid(_, _, reason): reason
        case let ProviderError.parameter(_, reason): reason
        default: "\(error)"
        }
    }
}
