import ArgumentParser
import Foundation
import ManifestLint

/// `akvs validate`: lint manifests offline with the rules the provider, the driver, the sync controller and the CRDs apply.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Lint SecretProviderClass, SecretSync, AKVSync and pod/workload manifests offline (exit 1 on any error).",
        discussion: "Each finding is printed as FILE:LINE:COL: field.path: message. Directories are walked for *.yaml, *.yml and *.json."
    )

    enum Target: String, ExpressibleByArgument, CaseIterable { case csi, sync }
    enum Output: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Argument(help: "Manifest files or directories (multi-document YAML or JSON).")
    var paths: [String]

    @Option(name: .customLong("for"), help: "What the manifests must work with: csi (the CSI driver, default) or sync (also what Azure's Secret Store extension refuses).")
    var target: Target = .csi

    @Option(help: "Output format: text or json.")
    var output: Output = .text

    @Option(help: ArgumentHelp("Also report what the chart's tenant policy refuses, with the policy.* settings of this Helm values file.", valueName: "values.yaml"))
    var tenantPolicy: String?

    func validate() throws {
        guard !paths.isEmpty else { throw ValidationError("name at least one manifest file or directory") }
        for path in paths where !FileManager.default.fileExists(atPath: path) {
            throw ValidationError("\(path): no such file or directory")
        }
    }

    func run() throws {
        let report: LintReport
        do {
            var policy: TenantPolicy?
            if let tenantPolicy {
                guard let text = try? String(contentsOfFile: tenantPolicy, encoding: .utf8) else {
                    throw ValidationError("--tenant-policy \(tenantPolicy): cannot be read; give the Helm values file with the policy: settings")
                }
                policy = try TenantPolicy(valuesYAML: text, source: "--tenant-policy \(tenantPolicy)")
            }
            report = try ManifestLinter(forSync: target == .sync, tenantPolicy: policy).lint(paths: paths)
        } catch let error as LintInputError {
            throw ValidationError(error.description)
        }
        print(output == .json ? report.json() : report.text())
        fflush(nil)
        if !report.clean { throw ExitCode(1) }
    }
}
