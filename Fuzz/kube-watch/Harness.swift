// libFuzzer target: the Kubernetes watch-stream decoder and the API error/list decoders. Byte 0 sets the
// chunk size the stream arrives in; the rest is the stream. Each line must decode to an event or throw
// a KubernetesError, whatever the chunking.
import Foundation
import NIOCore
import NIOHTTP1
import SecretsStoreAPI
@testable import Kubernetes

func events<T: APIObject>(_ type: T.Type, _ stream: ArraySlice<UInt8>, chunk: Int) -> [String] {
    var splitter = WatchLineSplitter()
    var seen: [String] = []
    var offset = stream.startIndex
    while offset < stream.endIndex {
        let end = min(offset + chunk, stream.endIndex)
        do {
            for line in try splitter.append(ByteBuffer(bytes: stream[offset..<end])) {
                do {
                    switch try KubernetesClient.watchEvent(T.self, line) {
                    case .added(let o), .modified(let o), .deleted(let o): seen.append("object \(o.key)")
                    case .bookmark(let version): seen.append("bookmark \(version)")
                    case .initialEventsEnd(let version): seen.append("initial-events-end \(version)")
                    }
                } catch let error as KubernetesError {
                    // Only that it failed: Foundation's JSONDecoder words the error for invalid UTF-8 differently
                    // depending on the buffer's alignment (found by this target), which says nothing about the splitter.
                    _ = error.description
                    seen.append("error")
                } catch {
                    preconditionFailure("watch decoder threw a non-KubernetesError: \(error)")
                }
            }
        } catch {
            seen.append("split \(error)")
        }
        offset = end
    }
    return seen
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let first = bytes.first else { return 0 }
    let stream = bytes[1...]
    // Chunking must not change what is decoded.
    let whole = events(Secret.self, stream, chunk: max(stream.count, 1))
    precondition(events(Secret.self, stream, chunk: 1 + Int(first % 16)) == whole, "chunk boundaries changed the decoded events")
    _ = events(SecretProviderClass.self, stream, chunk: 64)
    _ = events(SecretSync.self, stream, chunk: 64)

    let body = ByteBuffer(bytes: stream)
    let (error, _) = KubernetesClient.error(code: 400 + Int(first % 200), headers: ["Retry-After": String(decoding: stream.prefix(8), as: UTF8.self)], body: body)
    precondition(!error.description.isEmpty)
    _ = try? KubernetesClient.decode(ObjectList<Secret>.self, body)
    return 0
}
