import ArgumentParser
import Foundation
import Kubernetes
import Logging
import Serving

/// A failure while a role starts or runs: printed as `Error: …` without the usage text, which is for usage errors only.
struct RoleFailure: Error, CustomStringConvertible {
    let description: String
    init(_ error: any Error) { description = "\(error)" }
    init(message: String) { description = message }
}

/// Flags every serving role shares: log format and the configuration check.
struct RoleOptions: ParsableArguments {
    @Option(name: .customLong("log-format-json"), help: "Log one JSON object per line (true/false).")
    var logFormatJSON: Bool = false

    @Flag(name: .customLong("check-config"), help: "Validate every flag and file, print the effective configuration and exit without starting.")
    var checkConfig = false

    /// The role's logger; an unknown level is a usage error naming `--log-level`.
    func logger(label: String, level: String) throws -> Logger {
        do { return try LogSetup.logger(label: label, level: level, json: logFormatJSON) } catch { throw ValidationError(error.description) }
    }
}

/// What `--check-config` prints: the effective settings of a role, never a secret.
struct EffectiveConfiguration {
    let role: String
    var entries: [(String, String)] = []

    init(role: String) { self.role = role }

    mutating func add(_ key: String, _ value: CustomStringConvertible) { entries.append((key, value.description)) }

    func print() {
        Swift.print("akvs \(role): configuration is valid; not starting (--check-config)")
        let width = entries.map(\.0.count).max() ?? 0
        for (key, value) in entries { Swift.print("  \(key.padding(toLength: width, withPad: " ", startingAt: 0))  \(value)") }
        fflush(nil)
    }
}

/// Parses a listen-address flag as a usage error when malformed.
func listenAddress(_ text: String, flag: String) throws -> ListenAddress {
    do { return try ListenAddress.parse(text, flag: flag) } catch { throw ValidationError(error.description) }
}

/// The Kubernetes connection: `--kubeconfig` must load (a usage error naming it); the automatic lookup may fail
/// under `--check-config` (outside a pod) and is then reported rather than refused.
/// A controller role's metrics and health listeners (`--metrics-bind-address`, `--health-probe-bind-address`), reported.
func controllerListeners(metrics: String, health: String, into report: inout EffectiveConfiguration) throws -> (metrics: ListenAddress, health: ListenAddress) {
    let metricsAddress = try listenAddress(metrics, flag: "--metrics-bind-address")
    let healthAddress = try listenAddress(health, flag: "--health-probe-bind-address")
    report.add("metrics-bind-address", metricsAddress)
    report.add("health-probe-bind-address", healthAddress)
    return (metricsAddress, healthAddress)
}

/// The role's API client; a configuration it cannot use ends the role with its message.
func makeKubernetesClient(_ configuration: KubernetesConfiguration, logger: Logger) throws -> KubernetesClient {
    do { return try KubernetesClient(configuration: configuration, logger: logger) } catch { throw RoleFailure(error) }
}

func kubernetesConfiguration(kubeconfig: String?, checking: Bool, into report: inout EffectiveConfiguration) throws -> KubernetesConfiguration? {
    if let path = kubeconfig {
        do {
            let config = try KubernetesConfiguration.kubeconfig(path: path)
            report.add("kubernetes", "\(config.server.absoluteString) (from --kubeconfig \(path))")
            return config
        } catch { throw ValidationError("--kubeconfig '\(path)': \(error)") }
    }
    do {
        let config = try KubernetesConfiguration.load()
        report.add("kubernetes", "\(config.server.absoluteString) ($KUBECONFIG, in-cluster or ~/.kube/config)")
        return config
    } catch {
        guard checking else { throw RoleFailure(error) }
        report.add("kubernetes", "not found here (\(error)); in a pod the in-cluster service account is used")
        return nil
    }
}

/// A CA bundle flag must name a readable PEM file.
func checkCAFile(_ path: String?, flag: String = "--ca-file") throws {
    guard let path else { return }
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
        throw ValidationError("\(flag) '\(path)' cannot be read; give the path of a PEM CA bundle")
    }
    guard text.contains("-----BEGIN CERTIFICATE-----") else {
        throw ValidationError("\(flag) '\(path)' holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    }
}

/// Runs `serve` until SIGINT or SIGTERM, then cancels it, which each server answers with a graceful shutdown.
/// A server that stops by itself (it could not start) ends the command with its error.
func serveUntilTerminated(logger: Logger, _ serve: @escaping @Sendable () async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: Bool.self) { group in
        group.addTask { try await serve(); return false }
        group.addTask {
            await waitForTermination()
            // Also returns when the role ended on its own (cancelled): that is no signal.
            guard !Task.isCancelled else { return false }
            logger.info("termination signal received; shutting down")
            return true
        }
        let signalled = try await group.next() ?? false
        group.cancelAll()
        do {
            try await group.waitForAll()
        } catch is CancellationError where signalled {
            // The stop that was asked for, not a failure.
        }
    }
}
