#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Hummingbird
import Logging
import Serving
import Testing

@Suite struct ServingTests {
    @Test func listenAddressesParseLikeTheUpstreamFlags() throws {
        #expect(try ListenAddress.parse(":8095", flag: "--metrics-addr") == ListenAddress(host: "0.0.0.0", port: 8095))
        #expect(try ListenAddress.parse("127.0.0.1:9808", flag: "--health-addr") == ListenAddress(host: "127.0.0.1", port: 9808))
        #expect(try ListenAddress.parse("[::1]:80", flag: "--x").description == "[::1]:80")
        for bad in ["8095", "host:", ":70000", "a:b"] {
            #expect(throws: ServingError.address(flag: "--metrics-addr", value: bad)) { try ListenAddress.parse(bad, flag: "--metrics-addr") }
        }
    }

    @Test func socketEndpointsFollowTheUpstreamForms() throws {
        #expect(try UnixSocket.path(endpoint: "unix:///csi/csi.sock", example: "") == "/csi/csi.sock")
        #expect(try UnixSocket.path(endpoint: "unix:/csi/csi.sock", example: "") == "/csi/csi.sock")
        #expect(try UnixSocket.path(endpoint: "unix://tmp/csi.sock", example: "", hostIsFolder: true) == "/tmp/csi.sock")
        #expect(throws: ServingError.self) { try UnixSocket.path(endpoint: "unix://tmp/csi.sock", example: "") }
        #expect(throws: ServingError.self) { try UnixSocket.path(endpoint: "tcp://127.0.0.1:1", example: "") }
        #expect(throws: ServingError.self) { try UnixSocket.path(endpoint: "unix:///", example: "") }
    }

    @Test func preparingASocketNeverRemovesAFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("serving-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let file = dir.appendingPathComponent("x.sock").path
        _ = FileManager.default.createFile(atPath: file, contents: Data("keep".utf8))
        #expect(throws: ServingError.self) { try UnixSocket.prepare(file) }
        #expect(FileManager.default.contents(atPath: file) == Data("keep".utf8))
        try UnixSocket.prepare(dir.appendingPathComponent("sub/y.sock").path)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("sub").path))
    }

    @Test func aTakenPortIsNamedWithItsFlagAndTheOthersStopAgain() async throws {
        let first = try await HTTPListeners([listener("metrics", "--metrics-addr", port: 0)], logger: Logger(label: "t")).start()
        defer { Task { await first.stop() } }
        // Bind a port by hand so its number is known, then ask the listeners for it.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = listen(fd, 1)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        defer { close(fd) }
        let taken = Int(UInt16(bigEndian: addr.sin_port))
        do {
            _ = try await HTTPListeners([listener("metrics", "--metrics-addr", port: 0), listener("health", "--health-addr", port: taken)],
                                        logger: Logger(label: "t")).start()
            Issue.record("a taken port was accepted")
        } catch {
            #expect(error == .listen(name: "health", address: "127.0.0.1:\(taken)", flag: "--health-addr", reason: "Address already in use"))
            #expect(error.description.contains("--health-addr"))
        }
    }

    @Test func aCleanStopLogsNoErrors() async throws {
        let lines = Lines()
        let logger = Logger(label: "t", factory: { JSONLogHandler(label: $0, write: { lines.append($0) }) })
        let running = try await HTTPListeners([listener("metrics", "--metrics-addr", port: 0), listener("health", "--health-addr", port: 0)],
                                              logger: logger).start()
        await running.stop()
        #expect(lines.all.filter { $0.contains("\"level\":\"error\"") }.isEmpty, "\(lines.all)")
    }

    @Test func jsonLogLinesAreOneObjectEach() throws {
        let lines = Lines()
        var logger = Logger(label: "akvs.test", factory: { JSONLogHandler(label: $0, write: { lines.append($0) }) })
        logger.logLevel = .debug
        logger[metadataKey: "role"] = "provider"
        logger.info("mounted \"x\"\nnext", metadata: ["objects": "3", "list": ["a", "b"], "map": ["k": "v"]])
        #expect(lines.all.count == 1)
        let line = try #require(lines.all.first)
        #expect(line.hasSuffix("}\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["level"] as? String == "info")
        #expect(object["logger"] as? String == "akvs.test")
        #expect(object["msg"] as? String == "mounted \"x\"\nnext")
        #expect(object["role"] as? String == "provider")
        #expect(object["objects"] as? String == "3")
        #expect(object["list"] as? [String] == ["a", "b"])
        #expect((object["caller"] as? String)?.hasPrefix("ServingTests.swift:") == true)
    }

    @Test func anUnknownLogLevelNamesTheFlag() {
        #expect(throws: LogLevelError.self) { try LogSetup.logger(label: "x", level: "loud", json: false) }
        #expect((try? LogSetup.logger(label: "x", level: "DEBUG", json: true))?.logLevel == .debug)
    }

    func listener(_ name: String, _ flag: String, port: Int) -> HTTPListener {
        let router = Router()
        router.get("/") { _, _ in "ok" }
        return HTTPListener(name: name, flag: flag, address: ListenAddress(host: "127.0.0.1", port: port), router: router)
    }
}

/// Collected log lines.
final class Lines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}
