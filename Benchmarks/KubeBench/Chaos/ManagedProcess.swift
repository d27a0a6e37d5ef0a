import Foundation

/// One role of the system under test as a child process that the chaos run may kill and start again.
/// Output goes to a log file (appended across restarts) so the leak scan can read every line it wrote.
actor ManagedProcess {
    let name: String
    let binary: URL
    let arguments: [String]
    let readyMarker: String
    let logFile: URL
    private var process: Process?
    private(set) var starts = 0
    /// Kept down by a fault: the supervisor does not restart it.
    private(set) var held = false
    private var starting = false

    init(name: String, binary: URL, arguments: [String], readyMarker: String, logDirectory: URL) {
        self.name = name; self.binary = binary; self.arguments = arguments; self.readyMarker = readyMarker
        logFile = logDirectory.appendingPathComponent("\(name).log")
    }

    var isRunning: Bool { process?.isRunning ?? false }

    func hold() { held = true }
    func unhold() { held = false }

    /// As kubelet restarts a container that exited (a controller that lost its lease exits, as upstream's does):
    /// true when it was down and has been started again.
    func superviseOnce() async -> Bool {
        guard !held, !starting, process != nil, !isRunning else { return false }
        try? await start()
        return true
    }
    var pid: Int32? { process?.isRunning == true ? process?.processIdentifier : nil }

    /// Starts the process and waits (at most `timeout`) until its log shows the ready marker.
    func start(timeout: Duration = .seconds(60)) async throws {
        guard !starting else { return }
        starting = true
        defer { starting = false }
        if !FileManager.default.fileExists(atPath: logFile.path) { _ = FileManager.default.createFile(atPath: logFile.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: logFile)
        let offset = try handle.seekToEnd()
        let p = Process()
        p.executableURL = binary
        p.arguments = arguments
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        try? handle.close()
        process = p
        starts += 1
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let text = try? readLog(from: offset), text.contains(readyMarker) { return }
            guard p.isRunning else { throw BenchError("\(name) exited with \(p.terminationStatus) before it was ready; see \(logFile.path)") }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BenchError("\(name) was not ready within \(timeout); see \(logFile.path)")
    }

    /// `kill -9`: no chance to clean up.
    func kill9() { send(SIGKILL) }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    func terminate(grace: Duration = .seconds(20)) async {
        guard let p = process, p.isRunning else { return }
        kill(p.processIdentifier, SIGTERM)
        let deadline = ContinuousClock.now + grace
        while p.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        if p.isRunning { send(SIGKILL) }
    }

    private func send(_ sig: Int32) {
        guard let p = process, p.isRunning else { return }
        kill(p.processIdentifier, sig)
        p.waitUntilExit()
    }

    private func readLog(from offset: UInt64) throws -> String {
        let handle = try FileHandle(forReadingFrom: logFile)
        defer { try? handle.close() }
        try handle.seek(toOffset: offset)
        return String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
    }
}
