import Foundation
import Testing

/// True when the openssl CLI that generates every test input is installed.
let hasOpenSSL = FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl")

/// True when python3 with the `cryptography` package is installed.
let hasPythonCryptography: Bool = {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else { return false }
    return (try? Tool.run("/usr/bin/python3", ["-c", "import cryptography"])) != nil
}()

struct ToolFailure: Error, CustomStringConvertible {
    let description: String
}

/// Runs command-line tools in a private scratch directory.
enum Tool {
    /// Runs `executable` with `arguments` in `directory`, feeding `input`, and returns stdout; throws on a non-zero exit.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], in directory: URL? = nil, input: [UInt8] = []) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        // Inputs are small (well under a pipe buffer) and tools write little to stderr, so sequential I/O is safe.
        if !input.isEmpty { stdin.fileHandleForWriting.write(Data(input)) }
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        let errors = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let message = String(decoding: errors, as: UTF8.self)
            throw ToolFailure(description: "\(executable) \(arguments.joined(separator: " ")) failed: \(message)")
        }
        return Array(output)
    }

    @discardableResult
    static func openssl(_ arguments: [String], in directory: URL, input: [UInt8] = []) throws -> [UInt8] {
        try run("/usr/bin/openssl", arguments, in: directory, input: input)
    }

    /// A new empty directory under this run's scratch root, which is removed when the test process exits.
    static func scratchDirectory() throws -> URL {
        let url = scratchRoot.appendingPathComponent(UUID().uuidString, isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    private static let scratchRoot: URL = {
        atexit { try? FileManager.default.removeItem(at: Tool.scratchRoot) }
        return FileManager.default.temporaryDirectory
            .appendingPathComponent("akvs-formats-tests-\(ProcessInfo.processInfo.processIdentifier)", isDirectory: true)
    }()
}

extension URL {
    func bytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: appendingPathComponent(name)))
    }

    func text(_ name: String) throws -> String {
        String(decoding: try bytes(name), as: UTF8.self)
    }

    func write(_ name: String, _ bytes: [UInt8]) throws {
        try Data(bytes).write(to: appendingPathComponent(name))
    }
}

/// A deterministic pseudo-random generator (SplitMix64) so fuzz failures reproduce.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

func base64url(_ bytes: [UInt8]) -> String {
    Data(bytes).base64EncodedString()
        .replacingOccurrences(of: "+", with: "-")
        .replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}
