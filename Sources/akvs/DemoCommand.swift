import ArgumentParser
import Demo
import Foundation

/// `akvs demo`: a tour on the embedded emulator, no cloud account and no cluster.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Start the embedded Key Vault emulator and read every seeded object with each identity mode."
    )

    @Option(help: "Seed YAML for the emulator.")
    var seed: String = "examples/emulator-seed.yaml"

    @Option(name: .customLong("work-dir"), help: "Where the emulator's state goes (default: a new temporary directory).")
    var workDir: String?

    func run() async throws {
        guard FileManager.default.fileExists(atPath: seed) else {
            throw ValidationError("seed file '\(seed)' not found; run from the repository root or pass --seed PATH")
        }
        let dir = workDir.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("akvs-demo-\(ProcessInfo.processInfo.processIdentifier)")
        try await DemoRunner(seedPath: seed, workDirectory: dir, print: { Swift.print($0) }).run()
    }
}
