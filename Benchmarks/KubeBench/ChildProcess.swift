import Foundation

/// A helper binary run as a child process (so its memory is not counted), stopped on `stop()`.
struct ChildProcess {
    let process: Process
    let readyLine: String

    static func start(_ binary: URL, _ arguments: [String], readyPrefix: String) throws -> ChildProcess {
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        var text = ""
        while !text.contains("\n") {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        guard text.hasPrefix(readyPrefix) else {
            process.terminate()
            throw BenchError("\(binary.lastPathComponent) did not start: \(text)")
        }
        return ChildProcess(process: process, readyLine: text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    func stop() { process.terminate(); process.waitUntilExit() }

    static func sibling(_ name: String) -> URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name)
    }
}
