import ArgumentParser
import Doctor
import Foundation
import KeyVault
import Kubernetes

/// `akvs doctor`: explain a failing mount or sync, end to end, on a live cluster.
struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Explain a failing mount or sync: a checklist with the fix for every ✗ (exit 0 only when nothing is ✗).",
        subcommands: [PodDoctorCommand.self, SecretSyncDoctorCommand.self, ClusterDoctorCommand.self]
    )
}

/// Flags every doctor subcommand takes.
struct DoctorOptions: ParsableArguments {
    enum Output: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Option(help: "Kubeconfig file (default: $KUBECONFIG, in-cluster, then ~/.kube/config).")
    var kubeconfig: String?

    @Option(help: "Output format: text or json.")
    var output: Output = .text

    @Flag(help: "Also act: request a token as the pod's or SecretSync's identity and read each object's metadata from the vault (values are never shown).")
    var probe = false

    @Option(name: .customLong("ca-file"), help: "Extra CA bundle to trust for Entra and Key Vault during --probe (e.g. a private cloud's or the emulator's ca.pem).")
    var caFile: String?

    func validate() throws { try checkCAFile(caFile) }

    /// Runs one checklist and prints it; a ✗ makes the exit code 1.
    func run(_ body: (Doctor) async -> DoctorReport) async throws {
        let config: KubernetesConfiguration
        if let kubeconfig {
            do { config = try KubernetesConfiguration.kubeconfig(path: kubeconfig) } catch { throw ValidationError("--kubeconfig '\(kubeconfig)': \(error)") }
        } else {
            do { config = try KubernetesConfiguration.load() } catch {
                throw RoleFailure(message: "no Kubernetes connection: \(error); pass --kubeconfig FILE or set KUBECONFIG")
            }
        }
        let client = try KubernetesClient(configuration: config)
        var session: KeyVaultSession?
        if probe {
            do { session = try KeyVaultSession.make(additionalCAFile: caFile) } catch {
                await client.shutdown()
                throw RoleFailure(message: "--probe: cannot set up HTTPS to Entra and Key Vault: \(error)")
            }
        }
        let doctor = Doctor(client: client, probe: session.map { VaultProbe(session: $0, client: client) })
        let report = await body(doctor)
        try? await session?.shutdown()
        await client.shutdown()
        print(output == .json ? report.json() : report.text())
        fflush(nil)
        if !report.healthy { throw ExitCode(1) }
    }
}

struct PodDoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pod", abstract: "Why a pod's secrets-store volume does not mount or rotate.")

    @Argument(help: "The pod's name.") var name: String
    @Option(name: .shortAndLong, help: "The pod's namespace (default: the kubeconfig context's, else default).") var namespace: String?
    @OptionGroup var options: DoctorOptions

    func run() async throws {
        try await options.run { doctor in await doctor.pod(name, namespace: namespace ?? doctor.defaultNamespace) }
    }
}

struct SecretSyncDoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "secretsync", abstract: "Why a SecretSync does not produce its Secret.")

    @Argument(help: "The SecretSync's name.") var name: String
    @Option(name: .shortAndLong, help: "The SecretSync's namespace (default: the kubeconfig context's, else default).") var namespace: String?
    @OptionGroup var options: DoctorOptions

    func run() async throws {
        try await options.run { doctor in await doctor.secretSync(name, namespace: namespace ?? doctor.defaultNamespace) }
    }
}

struct ClusterDoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cluster", abstract: "Whether akvs is installed and healthy: CRDs, settings, issuer, admission policies, node registration.")

    @OptionGroup var options: DoctorOptions

    func run() async throws {
        try await options.run { doctor in await doctor.cluster() }
    }
}
