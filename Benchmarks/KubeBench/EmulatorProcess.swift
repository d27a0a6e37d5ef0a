import Foundation
import StructuredJSON

/// `akvs emulator` as a child process seeded from `seed`, with its credentials and admin counters.
struct EmulatorProcess {
    let process: ChildProcess
    let credentials: JSONValue
    let caFile: String
    let admin: AdminCounters

    static func start(work: URL, seed: String) throws -> EmulatorProcess {
        let seedFile = work.appendingPathComponent("seed.yaml")
        try seed.write(to: seedFile, atomically: true, encoding: .utf8)
        let process = try ChildProcess.start(ChildProcess.sibling("akvs"), ["emulator", "--listen", "127.0.0.1:0", "--state-dir", work.appendingPathComponent("emu").path,
                                                                           "--seed", seedFile.path], readyPrefix: "akvs emulator ready")
        do {
            let credentials = try JSONValue.parse(Data(contentsOf: work.appendingPathComponent("emu/credentials.json")))
            let caFile = credentials["caFile"]?.stringValue ?? ""
            let admin = try AdminCounters(base: credentials["adminEndpoint"]?.stringValue ?? "", caFile: caFile)
            return EmulatorProcess(process: process, credentials: credentials, caFile: caFile, admin: admin)
        } catch {
            process.stop()
            throw error
        }
    }
}
