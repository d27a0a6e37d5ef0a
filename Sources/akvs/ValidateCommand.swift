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

    func validate() throws {
        guard !paths.isEmpty else { throw ValidationError("name at least one manifest file or directory") }
        for path in paths where !FileManager.default.fileExists(atPath: path) {
            throw ValidationError("\(path): no such file or directory")
        }
    }

    func run() throws {
        let report: LintReport
        do { report = try ManifestLinter(forSync: target == .sync).lint(paths: paths) } catch {
            throw ValidationError(error.description)
        }
        print(output == .json ? report.json() : report.text())
        fflush(nil)
        if !report.clean { throw ExitCode(1) }
    }
}
