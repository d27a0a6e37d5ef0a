import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import SecretsStoreAPI
import StructuredJSON

/// One watch event.
public enum WatchEvent<T: APIObject>: Sendable {
    case added(T)
    case modified(T)
    case deleted(T)
    /// Everything up to this resourceVersion has been delivered.
    case bookmark(resourceVersion: String)
    /// Watch-list: every object that existed when the watch began has arrived (a BOOKMARK annotated
    /// `k8s.io/initial-events-end: "true"`); changes follow.
    case initialEventsEnd(resourceVersion: String)
}

/// Watch parameters.
public struct WatchOptions: Sendable {
    /// Resume point: events after it. nil replays every current object as `added` first.
    public var resourceVersion: String?
    public var labelSelector: String?
    public var fieldSelector: String?
    public var allowBookmarks: Bool
    /// The server ends the watch after this long (the caller then resumes).
    public var timeoutSeconds: Int?
    /// Watch-list (`sendInitialEvents=true`): every current object arrives as `added`, then `initialEventsEnd`,
    /// instead of a separate list. Servers whose storage cannot do it answer an ERROR event.
    public var sendInitialEvents: Bool
    public init(resourceVersion: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil, allowBookmarks: Bool = true, timeoutSeconds: Int? = nil,
                sendInitialEvents: Bool = false) {
        self.resourceVersion = resourceVersion; self.labelSelector = labelSelector; self.fieldSelector = fieldSelector
        self.allowBookmarks = allowBookmarks; self.timeoutSeconds = timeoutSeconds; self.sendInitialEvents = sendInitialEvents
    }
}

extension KubernetesClient {
    /// Streams changes until the server ends the watch (the stream finishes) or fails it: an ERROR event
    /// throws its Status (410 Expired means: list again, then watch from the new resourceVersion).
    public func watch<T: APIObject>(_ type: T.Type, namespace: String?, options: WatchOptions = .init()) -> AsyncThrowingStream<WatchEvent<T>, any Error> {
        let path = Self.path(T.resourceKind, namespace: namespace) + Self.query([
            ("watch", "true"), ("resourceVersion", options.sendInitialEvents ? nil : options.resourceVersion), ("labelSelector", options.labelSelector),
            ("fieldSelector", options.fieldSelector), ("allowWatchBookmarks", options.allowBookmarks || options.sendInitialEvents ? "true" : nil),
            ("sendInitialEvents", options.sendInitialEvents ? "true" : nil), ("resourceVersionMatch", options.sendInitialEvents ? "NotOlderThan" : nil),
            ("timeoutSeconds", options.timeoutSeconds.map(String.init)),
        ])
        let (stream, continuation) = AsyncThrowingStream<WatchEvent<T>, any Error>.makeStream()
        let task = Task {
            do {
                try await self.runWatch(path: path, timeoutSeconds: options.timeoutSeconds, into: continuation)
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    func runWatch<T: APIObject>(path: String, timeoutSeconds: Int?, into continuation: AsyncThrowingStream<WatchEvent<T>, any Error>.Continuation) async throws {
        var forceReload = false
        while true {
            let request = try await makeRequest(.GET, path, body: nil, contentType: "application/json", forceTokenReload: forceReload)
            let response: HTTPClientResponse
            do {
                // The server closes the watch after timeoutSeconds; allow a margin before giving up on it.
                response = try await http.execute(request, timeout: .seconds(Int64((timeoutSeconds ?? 3600) + 30)))
            } catch {
                throw KubernetesError.transport("watch \(path): \(error)")
            }
            let code = Int(response.status.code)
            guard code == 200 else {
                let body = (try? await response.body.collect(upTo: 1 << 20)) ?? ByteBuffer()
                if code == 401, configuration.token?.isFile == true, !forceReload { forceReload = true; continue }
                throw Self.error(code: code, headers: response.headers, body: body).error
            }
            var lines = WatchLineSplitter()
            do {
                for try await chunk in response.body {
                    for line in try lines.append(chunk) { continuation.yield(try Self.watchEvent(T.self, line)) }
                }
            } catch let error as KubernetesError {
                throw error
            } catch {
                throw KubernetesError.transport("watch \(path) broke: \(error)")
            }
            return
        }
    }

    struct EventHeader: Decodable { var type: String }
    struct EventBody<O: Decodable>: Decodable { var object: O }

    static func watchEvent<T: APIObject>(_ type: T.Type, _ line: ByteBuffer) throws -> WatchEvent<T> {
        let header = try decode(EventHeader.self, line)
        switch header.type {
        case "ADDED": return .added(try decode(EventBody<T>.self, line).object)
        case "MODIFIED": return .modified(try decode(EventBody<T>.self, line).object)
        case "DELETED": return .deleted(try decode(EventBody<T>.self, line).object)
        case "BOOKMARK":
            let object = try decode(EventBody<JSONValue>.self, line).object
            let resourceVersion = object[path: ["metadata", "resourceVersion"]]?.stringValue ?? ""
            if object[path: ["metadata", "annotations", "k8s.io/initial-events-end"]]?.stringValue == "true" { return .initialEventsEnd(resourceVersion: resourceVersion) }
            return .bookmark(resourceVersion: resourceVersion)
        case "ERROR":
            let status = try decode(EventBody<JSONValue>.self, line).object
            // Int(exactly:): a code such as 1e300 must not trap the conversion; it is then no HTTP code at all.
            throw KubernetesError.api(code: status["code"]?.numberValue.flatMap { Int(exactly: $0) } ?? 500, reason: status["reason"]?.stringValue ?? "Unknown",
                                      message: status["message"]?.stringValue ?? "watch error", retryAfterSeconds: nil)
        default:
            throw KubernetesError.invalidResponse("unknown watch event type '\(header.type)'")
        }
    }
}

/// Cuts a watch stream into its newline-delimited JSON events, however the chunks fall.
struct WatchLineSplitter {
    /// Longest event accepted: kube-apiserver objects are at most ~1.5 MiB, so a longer line is a broken stream.
    static let maximumLineBytes = 16 << 20
    private var pending = ByteBuffer()
    /// Bytes at the start of `pending` already searched for a newline: a long line in small chunks costs
    /// linear time, not a rescan of everything buffered per chunk.
    private var searched = 0

    /// The complete, non-empty lines `chunk` finishes; throws when a line grows past `maximumLineBytes`.
    mutating func append(_ chunk: ByteBuffer) throws(KubernetesError) -> [ByteBuffer] {
        var chunk = chunk
        pending.writeBuffer(&chunk)
        var lines: [ByteBuffer] = []
        while true {
            let view = pending.readableBytesView
            guard let newline = view[(view.startIndex + searched)...].firstIndex(of: UInt8(ascii: "\n")) else {
                searched = view.count
                break
            }
            let line = pending.readSlice(length: newline - pending.readerIndex)!
            pending.moveReaderIndex(forwardBy: 1)
            searched = 0
            if line.readableBytes > 0 { lines.append(line) }
        }
        pending.discardReadBytes()
        guard pending.readableBytes <= Self.maximumLineBytes else {
            throw .invalidResponse("watch event is larger than \(Self.maximumLineBytes) bytes without a newline; the stream is not a Kubernetes watch")
        }
        return lines
    }
}
