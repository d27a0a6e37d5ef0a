import ArgumentParser
import Emulator
import Foundation
import Logging
import UnixSignals

/// `akvs emulator`: Key Vault + Entra ID + IMDS on this machine.
struct EmulatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "emulator",
        abstract: "Run the local Key Vault, Entra ID and IMDS emulator over HTTPS (see docs/emulator.md)."
    )

    @Option(help: "HTTPS listen address HOST:PORT (port 0 picks a free port).")
    var listen: String = "127.0.0.1:8443"

    @Option(name: .customLong("imds-listen"), help: "Plain-HTTP IMDS listen address HOST:PORT.")
    var imdsListen: String = "127.0.0.1:0"

    @Option(name: .customLong("state-dir"), help: "Directory for ca.pem, cloud.json, credentials.json and the CA key.")
    var stateDir: String

    @Option(help: "Seed YAML with vaults, objects and identities.")
    var seed: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error.")
    var logLevel: String = "warning"

    @OptionGroup var role: RoleOptions

    func run() async throws {
        let (host, port) = try parseAddress(listen, option: "--listen")
        let (imdsHost, imdsPort) = try parseAddress(imdsListen, option: "--imds-listen")
        let logger = try role.logger(label: "akvs.emulator", level: logLevel)
        guard !stateDir.isEmpty else { throw ValidationError("--state-dir must name a folder for ca.pem, cloud.json and credentials.json") }
        var report = EffectiveConfiguration(role: "emulator")
        report.add("listen", "\(host):\(port)")
        report.add("imds-listen", "\(imdsHost):\(imdsPort)")
        report.add("state-dir", stateDir)
        if let seed {
            let parsed: Seed
            do { parsed = try Seed.load(path: seed) } catch { throw ValidationError(error.description) }
            report.add("seed", "\(seed): \(parsed.vaults?.count ?? 0) vaults, \(parsed.identities?.count ?? 0) identities, \(parsed.issuers?.count ?? 0) issuers")
        } else {
            report.add("seed", "none (empty emulator)")
        }
        if role.checkConfig { return report.print() }
        let options = EmulatorOptions(host: host, port: port, imdsHost: imdsHost, imdsPort: imdsPort,
                                      stateDirectory: URL(fileURLWithPath: stateDir), seedPath: seed, logger: logger)
        let running: RunningEmulator
        do { running = try await EmulatorServer.start(options) } catch {
            throw RoleFailure(error)
        }
        print(running.readyLine)
        fflush(nil)
        await waitForTermination()
        await running.stop()
    }
}

/// Parses HOST:PORT (IPv6 in brackets).
func parseAddress(_ text: String, option: String) throws -> (String, Int) {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
        throw ValidationError("\(option) '\(text)' must be HOST:PORT, e.g. 127.0.0.1:8443")
    }
    var host = String(text[..<colon])
    if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    guard !host.isEmpty else { throw ValidationError("\(option) '\(text)' has no host; use 127.0.0.1:PORT") }
    return (host, port)
}

/// Suspends until SIGINT or SIGTERM (or until the calling task is cancelled).
func waitForTermination() async {
    for await _ in await UnixSignalsSequence(trapping: .sigint, .sigterm) { return }
}
