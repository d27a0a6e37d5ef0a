import Foundation
import NIOHTTP1
import Crypto

/// Posts client-credentials grants to an Entra token endpoint and decodes the reply.
struct EntraTokenClient: Sendable {
    let transport: HTTPTransport
    let cloud: AzureCloud
    let tenantID: String
    let retry: RetryPolicy

    var tokenEndpoint: URL {
        cloud.activeDirectoryEndpoint.appendingPathComponent(tenantID).appendingPathComponent("oauth2/v2.0/token")
    }

    func requestToken(form: [(String, String)]) async throws(IdentityError) -> AccessToken {
        let body = Data(FormEncoding.encode(form).utf8)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        headers.add(name: "Accept", value: "application/json")
        var attempt = 0
        while true {
            attempt += 1
            let response: HTTPExchangeResponse
            do {
                response = try await transport.send(method: .POST, url: tokenEndpoint, headers: headers, body: body, connectAddress: cloud.connectAddress)
            } catch {
                transport.observer?.entraReply(tenant: tenantID, status: nil, aadsts: "")
                if attempt < retry.maxAttempts { try? await Task.sleep(for: retry.delay(afterAttempt: attempt, retryAfter: nil)); continue }
                throw .transport(error)
            }
            if response.status == 200 {
                transport.observer?.entraReply(tenant: tenantID, status: 200, aadsts: "")
                return try Self.decodeSuccess(response.body, endpoint: tokenEndpoint.absoluteString)
            }
            let error = Self.decodeError(response)
            if case .entra(_, _, _, let codes) = error {
                transport.observer?.entraReply(tenant: tenantID, status: response.status, aadsts: codes.first.map { "AADSTS\($0)" } ?? "")
            } else {
                transport.observer?.entraReply(tenant: tenantID, status: response.status, aadsts: "")
            }
            if error.isTransient, attempt < retry.maxAttempts {
                let after = RetryPolicy.parseRetryAfter(response.headers.first(name: "Retry-After"))
                try? await Task.sleep(for: retry.delay(afterAttempt: attempt, retryAfter: after))
                continue
            }
            throw error
        }
    }

    static func decodeSuccess(_ body: Data, endpoint: String) throws(IdentityError) -> AccessToken {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw .malformedResponse(endpoint: endpoint, reason: "body is not a JSON object")
        }
        guard let token = object["access_token"] as? String, !token.isEmpty else {
            throw .malformedResponse(endpoint: endpoint, reason: "access_token is missing")
        }
        let now = Date()
        if let expiresIn = number(object["expires_in"]) {
            return AccessToken(token: token, expiresOn: now.addingTimeInterval(expiresIn), now: now)
        }
        if let expiresOn = number(object["expires_on"]) {
            return AccessToken(token: token, expiresOn: Date(timeIntervalSince1970: expiresOn), now: now)
        }
        throw .malformedResponse(endpoint: endpoint, reason: "expires_in is missing")
    }

    static func decodeError(_ response: HTTPExchangeResponse) -> IdentityError {
        let object = (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any] ?? [:]
        let error = object["error"] as? String ?? "http_\(response.status)"
        let description = object["error_description"] as? String ?? "no error description in the reply"
        // Int(exactly:): a hostile code such as 1e300 or "nan" is dropped instead of trapping the conversion.
        let codes = (object["error_codes"] as? [Any])?.compactMap { number($0).flatMap { Int(exactly: $0) } } ?? []
        return .entra(status: response.status, error: error, description: description, codes: codes)
    }

    static func number(_ value: Any?) -> Double? {
        if let n = value as? NSNumber { return n.doubleValue }
        if let s = value as? String { return Double(s) }
        return nil
    }
}

/// `application/x-www-form-urlencoded` encoding.
public enum FormEncoding {
    private static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    public static func encode(_ pairs: [(String, String)]) -> String {
        pairs.map { escape($0.0) + "=" + escape($0.1) }.joined(separator: "&")
    }

    public static func escape(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: unreserved) ?? s
    }

    /// Decodes a form body into pairs (`+` is a space).
    public static func decode(_ body: String) -> [String: String] {
        var result: [String: String] = [:]
        for part in body.split(separator: "&") {
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(kv[0]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(kv[0])
            let value = kv.count > 1 ? (String(kv[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(kv[1])) : ""
            result[key] = value
        }
        return result
    }
}

/// Short, non-reversible digest for cache fingerprints.
func fingerprintDigest(_ parts: String...) -> String {
    let digest = SHA256.hash(data: Data(parts.joined(separator: "\u{0}").utf8))
    // Asked for on every token lookup: hex by hand, not String(format:) (CoreFoundation's formatter) per byte.
    let digits = Array("0123456789abcdef".utf8)
    return String(decoding: digest.prefix(16).flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0xf)]] }, as: UTF8.self)
}
