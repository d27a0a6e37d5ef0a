import ArgumentParser
import AzureProvider
import Foundation
import KeyVault
import SecretsStoreAPI

/// `akvs mount`: the provider path of a pod mount, into a local folder.
struct MountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mount",
        abstract: "Fetch a SecretProviderClass (provider: azure) into a folder, atomically, like a pod mount."
    )

    @Option(name: .shortAndLong, help: "SecretProviderClass manifest (YAML).")
    var file: String

    @Option(help: "Folder to write into (created if missing); content is swapped atomically.")
    var target: String

    @Option(name: .customLong("node-publish-secret"), help: "Secret manifest for nodePublishSecretRef (clientid, clientsecret).")
    var nodePublishSecret: String?

    @Option(name: .customLong("service-account-token"), help: "File with a service-account token (JWT) for workload identity.")
    var serviceAccountToken: String?

    @Option(help: "Audience of --service-account-token.")
    var audience: String = "api://AzureADTokenExchange"

    @Option(name: .customLong("pod-name"), help: "Pod name to report to the provider.")
    var podName: String = "akvs-mount"

    @Option(name: .customLong("pod-namespace"), help: "Pod namespace to report to the provider.")
    var podNamespace: String = "default"

    @Option(name: .customLong("ca-file"), help: "Extra CA bundle to trust (e.g. the emulator's ca.pem).")
    var caFile: String?

    @Option(help: "Default file mode, octal.")
    var permission: String = "0644"

    func run() async throws {
        guard let mode = Int32(permission, radix: 8), (0...0o777).contains(mode) else {
            throw ValidationError("--permission '\(permission)' must be an octal mode such as 0644")
        }
        let spc = try SecretProviderClass.parse(yaml: try read(file, option: "--file"), source: file)
        let secret = try nodePublishSecret.map { path in try SecretManifest.parse(yaml: try read(path, option: "--node-publish-secret"), source: path) } ?? [:]
        var tokens: [String: String] = [:]
        if let path = serviceAccountToken {
            tokens[audience] = try read(path, option: "--service-account-token").trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let session = try KeyVaultSession.make(additionalCAFile: caFile ?? inferredCA(spc))
        let mount = LocalMount(provider: AzureProvider(session: session))
        let report: LocalMount.Report
        do {
            report = try await mount.run(spc, target: URL(fileURLWithPath: target), pod: LocalMount.Pod(name: podName, namespace: podNamespace),
                                         nodePublishSecret: secret, serviceAccountTokens: tokens, defaultMode: mode)
        } catch {
            try? await session.shutdown()
            throw RoleFailure(message: "\(error)\nnothing in \(target) was changed")
        }
        try? await session.shutdown()
        print(report.table(target: target))
    }

    func read(_ path: String, option: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw ValidationError("\(option) '\(path)' cannot be read")
        }
        return text
    }

    /// An SPC that points at the emulator's environment file also gets the emulator's CA next to it.
    func inferredCA(_ spc: SecretProviderClass) -> String? {
        guard let env = spc.spec.parameters?["cloudEnvFileName"] else { return nil }
        let ca = URL(fileURLWithPath: env).deletingLastPathComponent().appendingPathComponent("ca.pem").path
        return FileManager.default.fileExists(atPath: ca) ? ca : nil
    }
}
