import ArgumentParser

/// The akvs command line: one binary, one subcommand per role.
@main
struct AKVS: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "akvs",
        abstract: "Azure Key Vault secrets for Kubernetes: CSI provider, sync controller, emulator.",
        version: "0.1.0",
        subcommands: [DemoCommand.self, MountCommand.self, ProviderCommand.self, CSIDriverCommand.self, SyncControllerCommand.self, EmulatorCommand.self, DoctorCommand.self, ValidateCommand.self]
    )
}

