import Foundation
import HTTPTypes
import Hummingbird
import KeyVault
import NIOCore

/// Builds the emulator's HTTP responses.
enum Reply {
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    static func json(_ status: HTTPResponse.Status, _ value: some Encodable, headers: HTTPFields = [:]) -> Response {
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func kvError(_ failure: KVFailure, headers: HTTPFields = [:]) -> Response {
        json(.init(code: failure.status), KeyVaultErrorBody(code: failure.code, message: failure.message, innerCode: failure.inner), headers: headers)
    }

    static func empty(_ status: HTTPResponse.Status) -> Response { Response(status: status) }
}

extension HTTPField.Name {
    static let wwwAuthenticate = HTTPField.Name("WWW-Authenticate")!
    static let retryAfter = HTTPField.Name("Retry-After")!
    static let metadata = HTTPField.Name("Metadata")!
    static let clientRequestID = HTTPField.Name("x-ms-client-request-id")!
    static let requestID = HTTPField.Name("x-ms-request-id")!
    static let keyVaultServiceVersion = HTTPField.Name("x-ms-keyvault-service-version")!
    static let keyVaultRegion = HTTPField.Name("x-ms-keyvault-region")!
}

/// Decoded query string (`+` is not a space in Key Vault URLs, only percent escapes).
func queryItems(_ query: String?) -> [String: String] {
    guard let query, !query.isEmpty else { return [:] }
    var result: [String: String] = [:]
    for part in query.split(separator: "&") {
        let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        let key = String(kv[0]).removingPercentEncoding ?? String(kv[0])
        result[key] = kv.count > 1 ? (String(kv[1]).removingPercentEncoding ?? String(kv[1])) : ""
    }
    return result
}
