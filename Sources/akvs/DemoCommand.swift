import ArgumentParser
import Demo
import Foundation

/// `akvs demo`: a tour on the embedded emulator, no cloud account and no cluster.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Start the embedded Key Vault emulator, mount examples/secretproviderclass.yaml, rotate a secret, mount again."
    )

    @Option(help: "Folder with emulator-seed.yaml, secretproviderclass.yaml and node-publish-secret.yaml.")
    var examples: String = "examples"

    @Option(name: .customLong("work-dir"), help: "Where the emulator's state and the mount go.")
    var workDir: String = "/tmp/akvs-demo"

    func run() async throws {
        for name in ["emulator-seed.yaml", "secretproviderclass.yaml", "node-publish-secret.yaml"] {
            guard FileManager.default.fileExists(atPath: examples + "/" + name) else {
                throw ValidationError("\(examples)/\(name) not found; run from the repository root or pass --examples DIR")
            }
        }
        try await DemoRunner(examples: URL(fileURLWithPath: examples), workDirectory: URL(fileURLWithPath: workDir), print: { Swift.print($0) }).run()
    }
}
