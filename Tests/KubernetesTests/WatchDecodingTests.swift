import Foundation
import NIOCore
import SecretsStoreAPI
import Testing
@testable import Kubernetes

/// The watch-stream decoder on hostile bytes (Fuzz/kube-watch drives the same code with generated streams).
@Suite struct WatchDecodingTests {
    @Test func linesAreTheSameHoweverTheChunksFall() throws {
        let stream = Array(#"{"type":"ADDED","object":{"metadata":{"name":"a","namespace":"n"}}}"#.utf8) + [10, 10]
            + Array(#"{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"7"}}}"#.utf8) + [10]
        for size in [1, 3, 64, stream.count] {
            var splitter = WatchLineSplitter()
            var lines: [String] = []
            for start in stride(from: 0, to: stream.count, by: size) {
                lines += try splitter.append(ByteBuffer(bytes: stream[start..<min(start + size, stream.count)])).map { String(buffer: $0) }
            }
            #expect(lines.count == 2 && lines[1].contains("BOOKMARK"), "chunk size \(size)")
        }
    }

    /// In 64 KiB chunks: each chunk is searched once, so this is linear (it rescanned everything buffered before).
    @Test func aLineWithoutEndIsRefusedOnceOverTheLimit() throws {
        var splitter = WatchLineSplitter()
        let chunk = ByteBuffer(repeating: UInt8(ascii: "x"), count: 64 << 10)
        for _ in 0..<256 { #expect(try splitter.append(chunk).isEmpty) }
        #expect(throws: KubernetesError.invalidResponse("watch event is larger than 16777216 bytes without a newline; the stream is not a Kubernetes watch")) {
            _ = try splitter.append(chunk)
        }
    }

    /// An ERROR event with code 1e300 trapped the Double → Int conversion (found reviewing the Fuzz/kube-watch harness).
    @Test func anErrorEventWithAnImpossibleCodeIsStillAnError() {
        let line = ByteBuffer(string: #"{"type":"ERROR","object":{"kind":"Status","code":1e300,"reason":"Expired","message":"too old resource version"}}"#)
        #expect(throws: KubernetesError.api(code: 500, reason: "Expired", message: "too old resource version", retryAfterSeconds: nil)) {
            _ = try KubernetesClient.watchEvent(Secret.self, line)
        }
    }

    @Test func anUnknownEventTypeIsNamed() {
        #expect(throws: KubernetesError.invalidResponse("unknown watch event type 'SOMETHING'")) {
            _ = try KubernetesClient.watchEvent(Secret.self, ByteBuffer(string: #"{"type":"SOMETHING","object":{}}"#))
        }
    }
}
