import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOSSL

/// The harness's own HTTP calls: admin APIs of the emulator and the test server, metrics, raw API reads.
struct ChaosHTTP: Sendable {
    let client: HTTPClient

    init(caFile: String) {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(caFile)
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
    }

    struct Reply: Sendable { var status: Int; var body: String }

    func call(_ method: HTTPMethod, _ url: String, json: Any? = nil, bearer: String? = nil, timeout: Duration = .seconds(15)) async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let bearer { request.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: json)))
        }
        let response = try await client.execute(request, timeout: .seconds(Int64(seconds(timeout))))
        let body = try await response.body.collect(upTo: 64 << 20)
        return Reply(status: Int(response.status.code), body: String(buffer: body))
    }

    /// An admin call that must succeed (retried a few times: the test server's own faults may hit it).
    func admin(_ method: HTTPMethod, _ url: String, json: Any? = nil, bearer: String? = nil) async throws {
        var last = ""
        for attempt in 0..<10 {
            if attempt > 0 { try await Task.sleep(for: .milliseconds(300)) }
            if let r = try? await call(method, url, json: json, bearer: bearer), (200..<300).contains(r.status) { return }
            last = "\(method) \(url) failed"
        }
        throw BenchError(last)
    }

    func shutdown() async { try? await client.shutdown() }
}
