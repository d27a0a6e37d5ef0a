import ArgumentParser
import Foundation
import Kubernetes
import Migration
import Yams

/// `akvs migrate`: the six-stage move from the CSI Secrets Provider to the Secret Store extension.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Move workloads from the CSI driver's SecretProviderClass volumes to SecretSyncs, stage by stage (dry run unless --apply).",
        discussion: "Stages: inventory, prepare, (switch over: helm upgrade with syncController.enabled=true), translate, workloads, verify, cleanup; plan runs 1, 2, 4 and 5 as one dry run; rollback restores from the backup. Exit codes: 0 done or ready, 1 blockers or verification failed, 2 usage error.",
        subcommands: [MigrateInventory.self, MigratePrepare.self, MigrateTranslate.self, MigrateWorkloads.self, MigrateVerify.self,
                      MigrateCleanup.self, MigrateRollback.self, MigratePlan.self]
    )
}

/// The flags every stage takes (a contract).
struct MigrateOptions: ParsableArguments {
    @Option(help: "Kubeconfig file (default: $KUBECONFIG, in-cluster, then ~/.kube/config).")
    var kubeconfig: String?

    @Option(name: .shortAndLong, help: "Only this namespace (default: all namespaces).")
    var namespace: String?

    @Option(name: .customLong("client-id"), help: "The workload identity client ID SecretProviderClasses move to.")
    var clientID: String?

    @Option(name: .customLong("client-id-map"), help: "YAML or 'namespace: client-id' lines: a client ID per namespace (wins over --client-id).")
    var clientIDMap: String?

    @Flag(help: "Act on the cluster (default: dry run).")
    var apply = false

    @Flag(name: .customLong("dry-run"), help: "Only show what would change (the default).")
    var dryRun = false

    @Option(name: .customLong("backup-dir"), help: "The backup bundle's folder (default ./akvs-migration-<UTC timestamp>; later stages need the one inventory wrote).")
    var backupDir: String?

    @Option(name: .customShort("f"), help: "Offline: read manifests from FILE or DIR instead of a cluster; output as manifests.")
    var file: String?

    @Option(help: "table, json or yaml (yaml: the manifests to apply).")
    var output: String = "table"

    @Option(name: .customLong("service-account"), help: "Service account SecretSyncs use where the SPC was not workload identity yet (one per namespace).")
    var serviceAccount: String = "akvs-sync"

    func validate() throws {
        guard ReportFormat(rawValue: output) != nil else { throw ValidationError("--output '\(output)' is not one of table, json, yaml") }
        if apply && dryRun { throw ValidationError("--apply and --dry-run contradict each other; pass one") }
        if apply && file != nil { throw ValidationError("-f reads manifest files offline, so there is nothing to --apply to; run with --output yaml and pipe it to kubectl apply -f -") }
        if let clientID { try Self.checkClientID(clientID, flag: "--client-id") }
        _ = try clientIDs()
        if serviceAccount.isEmpty || serviceAccount.count > 253 || !serviceAccount.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "-" || $0 == "." }) {
            throw ValidationError("--service-account '\(serviceAccount)' is not a valid name (lower-case letters, digits, '-', '.')")
        }
    }

    static func checkClientID(_ value: String, flag: String) throws {
        guard UUID(uuidString: value) != nil else { throw ValidationError("\(flag) '\(value)' is not a client ID: expected a GUID such as 11111111-2222-3333-4444-555555555555") }
    }

    /// `--client-id-map`: namespace → client ID.
    func clientIDs() throws -> [String: String] {
        guard let path = clientIDMap else { return [:] }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw ValidationError("--client-id-map '\(path)' cannot be read") }
        guard let map = (try? Yams.load(yaml: text)) as? [String: Any] else {
            throw ValidationError("--client-id-map '\(path)': expected lines 'namespace: client-id'")
        }
        var result: [String: String] = [:]
        for (namespace, value) in map {
            guard let id = value as? String else { throw ValidationError("--client-id-map '\(path)': namespace \(namespace) needs a client ID string") }
            try Self.checkClientID(id, flag: "--client-id-map '\(path)' (\(namespace))")
            result[namespace] = id
        }
        return result
    }

    var format: ReportFormat { ReportFormat(rawValue: output) ?? .table }

    var translationOptions: Translation.Options {
        var options = Translation.Options()
        options.clientID = clientID
        options.clientIDMap = (try? clientIDs()) ?? [:]
        options.serviceAccount = serviceAccount
        return options
    }

    func client() throws -> KubernetesClient {
        let config: KubernetesConfiguration
        if let kubeconfig {
            do { config = try KubernetesConfiguration.kubeconfig(path: kubeconfig) } catch { throw MigrateUsage("--kubeconfig '\(kubeconfig)': \(error)") }
        } else {
            do { config = try KubernetesConfiguration.load() } catch { throw RoleFailure(message: "no Kubernetes connection: \(error); pass --kubeconfig FILE, set KUBECONFIG, or use -f for manifest files") }
        }
        return try KubernetesClient(configuration: config)
    }

    /// The snapshot (cluster or files) and, live, the client.
    func snapshot() async throws -> (ClusterSnapshot, KubernetesClient?) {
        if let file {
            do { return (try ClusterSnapshot.load(files: file, namespace: namespace), nil) } catch { throw MigrateUsage(error.description) }
        }
        let client = try client()
        do { return (try await ClusterSnapshot.load(client: client, namespace: namespace), client) } catch {
            await client.shutdown()
            throw RoleFailure(message: error.description)
        }
    }

    /// Prints a stage's report; applies first when asked. Exit 1 when something is blocked.
    func finish(_ stage: String, _ changes: [Change], client: KubernetesClient?, notes: [String] = []) async throws {
        var result = changes
        if apply, let client { result = await Executor(client: client).apply(changes) }
        await client?.shutdown()
        let report = MigrationReport(stage: stage, applied: apply, changes: result, notes: notes)
        print(report.render(format))
        fflush(nil)
        if !report.blockers.isEmpty { throw ExitCode(1) }
    }
}

/// A usage error of a migrate stage: exit code 2, as the stages document.
struct MigrateUsage: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

struct MigrateInventory: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inventory", abstract: "Stage 1: what uses the CSI driver; writes the backup bundle (0700) rollback restores from.")
    @OptionGroup var options: MigrateOptions

    func run() async throws {
        let (snapshot, client) = try await options.snapshot()
        await client?.shutdown()
        let inventory = Inventory.build(snapshot)
        let directory = options.backupDir ?? BackupBundle.defaultPath()
        let written: Int
        do { written = try BackupBundle(directory: directory).write(snapshot, inventory: inventory) } catch { throw RoleFailure(message: error.description) }
        if options.format == .json {
            print(InventoryView.json(inventory))
        } else {
            print(InventoryView.table(inventory, bundle: directory, written: written))
        }
    }
}

struct MigratePrepare: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "prepare", abstract: "Stage 2: issuer, Kubernetes version, a ServiceAccount per namespace (--apply), and the Azure commands to run.")
    @OptionGroup var options: MigrateOptions

    func run() async throws {
        let (snapshot, client) = try await options.snapshot()
        let translation = Translation(snapshot: snapshot, inventory: Inventory.build(snapshot), options: options.translationOptions)
        let facts = client == nil ? Preparation.Facts() : await Preparation.facts(client!)
        try await options.finish("prepare", Preparation(translation: translation).changes(facts: facts), client: client)
    }
}

struct MigrateTranslate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "translate", abstract: "Stage 4: SecretProviderClasses to workload identity; SecretSyncs so that no consumer changes what it reads.")
    @OptionGroup var options: MigrateOptions
    @Option(help: "secretsync, or akvsync where AKVSync can express the same result.") var style: String = "secretsync"

    func validate() throws {
        guard ["secretsync", "akvsync"].contains(style) else { throw ValidationError("--style '\(style)' is not one of secretsync, akvsync") }
    }

    func run() async throws {
        let (snapshot, client) = try await options.snapshot()
        var translationOptions = options.translationOptions
        translationOptions.style = style
        let translation = Translation(snapshot: snapshot, inventory: Inventory.build(snapshot), options: translationOptions)
        try await options.finish("translate", translation.changes(), client: client)
    }
}

struct MigrateWorkloads: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "workloads", abstract: "Stage 5: CSI volumes become Secret volumes with the same paths and modes; workloads restart.")
    @OptionGroup var options: MigrateOptions
    @Flag(name: .customLong("recreate-bare-pods"), help: "Delete and recreate bare pods (they have no controller to restart them).") var recreateBarePods = false

    func run() async throws {
        let (snapshot, client) = try await options.snapshot()
        let translation = Translation(snapshot: snapshot, inventory: Inventory.build(snapshot), options: options.translationOptions)
        try await options.finish("workloads", WorkloadRewrite(translation: translation, recreateBarePods: recreateBarePods).changes(), client: client)
    }
}

struct MigrateVerify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "verify", abstract: "Stage 6a: wait until every SecretSync succeeded, every Secret has its keys and rollouts finished.")
    @OptionGroup var options: MigrateOptions
    @Option(help: "How long to wait, in seconds.") var timeout: Int = 300

    func run() async throws {
        guard options.file == nil else { throw MigrateUsage("verify reads the cluster; -f is not supported here") }
        let client = try options.client()
        let problems: [Change]
        do {
            problems = try await Verification(client: client, namespace: options.namespace).wait(timeout: .seconds(timeout)) { line in
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }
        } catch {
            await client.shutdown()
            throw RoleFailure(message: "verify: \(error)")
        }
        await client.shutdown()
        let report = MigrationReport(stage: "verify", applied: true, changes: problems.isEmpty ? [Change("verify", "", "migration", .unchanged, "verified: every SecretSync succeeded, every Secret has its keys, rollouts finished")] : problems)
        print(report.render(options.format))
        if !problems.isEmpty { throw ExitCode(1) }
    }
}

struct MigrateCleanup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cleanup", abstract: "Stage 6b: after verify passes, delete the nodePublishSecretRef Secrets (--apply --confirm) and the local inventory files.")
    @OptionGroup var options: MigrateOptions
    @Flag(help: "Required with --apply: the credentials Secrets are deleted for good.") var confirm = false

    func run() async throws {
        guard options.file == nil else { throw MigrateUsage("cleanup acts on the cluster; -f is not supported here") }
        guard let directory = options.backupDir else { throw MigrateUsage("cleanup needs --backup-dir: the folder inventory wrote (its inventory.json lists the credentials Secrets)") }
        if options.apply && !confirm { throw MigrateUsage("cleanup --apply deletes the service-principal Secrets for good: add --confirm") }
        let bundle = BackupBundle(directory: directory)
        let inventory: Inventory
        do { inventory = try bundle.inventory() } catch { throw MigrateUsage(error.description) }
        let (snapshot, client) = try await options.snapshot()
        let problems = (try? await Verification(client: client!, namespace: options.namespace).check()) ?? [Change("verify", "", "migration", .blocked, "could not be checked")]
        guard problems.isEmpty else {
            await client?.shutdown()
            print(MigrationReport(stage: "cleanup", applied: false, changes: problems, notes: ["verify has not passed: nothing was deleted. Run akvs migrate verify."]).render(options.format))
            throw ExitCode(1)
        }
        let usage = await CredentialUsage.scan(client: client!, namespaces: Cleanup.namespaces(of: inventory))
        let changes = Cleanup(inventory: inventory, usage: usage).changes { namespace, name in snapshot.secret(name, namespace: namespace) != nil }
        try await options.finish("cleanup", changes, client: client)
        // finish exits 1 when a Secret was kept: the inventory, the record of what is left to clean up, stays then.
        if options.apply {
            do { try bundle.remove() } catch { throw RoleFailure(message: error.description) }
            print("removed the local inventory files in \(directory)")
        }
    }
}

struct MigrateRollback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rollback", abstract: "Restore the SecretProviderClasses and workloads from the backup bundle exactly.")
    @OptionGroup var options: MigrateOptions

    func run() async throws {
        guard options.file == nil else { throw MigrateUsage("rollback acts on the cluster; -f is not supported here") }
        guard let directory = options.backupDir else { throw MigrateUsage("rollback needs --backup-dir: the folder inventory wrote") }
        let (snapshot, client) = try await options.snapshot()
        let changes: [Change]
        do { changes = try Rollback(bundle: BackupBundle(directory: directory), snapshot: snapshot).changes() } catch {
            await client?.shutdown()
            throw MigrateUsage(error.description)
        }
        try await options.finish("rollback", changes, client: client)
    }
}

struct MigratePlan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "plan", abstract: "Stages 1, 2, 4 and 5 as one dry run: a table per namespace. Exit 0 ready, 1 blockers, 2 usage error.")
    @OptionGroup var options: MigrateOptions

    func run() async throws {
        guard !options.apply else { throw MigrateUsage("plan is always a dry run; run the stages with --apply") }
        let (snapshot, client) = try await options.snapshot()
        let inventory = Inventory.build(snapshot)
        let translation = Translation(snapshot: snapshot, inventory: inventory, options: options.translationOptions)
        let facts = client == nil ? Preparation.Facts() : await Preparation.facts(client!)
        await client?.shutdown()
        let changes = Preparation(translation: translation).changes(facts: facts) + translation.changes()
            + WorkloadRewrite(translation: translation, recreateBarePods: false).changes()
        let plan = PlanReport(inventory: inventory, changes: changes)
        print(options.format == .table ? plan.table(translation: translation) : plan.json())
        if plan.blockers > 0 { throw ExitCode(1) }
    }
}
