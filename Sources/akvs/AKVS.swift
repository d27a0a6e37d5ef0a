import ArgumentParser
import Foundation

/// The akvs command line: one binary, one subcommand per role.
@main
struct AKVS: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "akvs",
        abstract: "Azure Key Vault secrets for Kubernetes: CSI provider, sync controller, emulator.",
        version: "0.1.0",
        subcommands: [DemoCommand.self, MountCommand.self, ProviderCommand.self, CSIDriverCommand.self, SyncControllerCommand.self, RestarterCommand.self, EmulatorCommand.self,
                      DoctorCommand.self, MigrateCommand.self, ValidateCommand.self]
    )

    /// As ArgumentParser's, except that `akvs migrate` answers usage errors with exit code 2, as its stages document.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var command = command as? AsyncParsableCommand { try await command.run() } else { try command.run() }
        } catch {
            let migrating = CommandLine.arguments.dropFirst().first == "migrate"
            if migrating, error is MigrateUsage || exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
