import Foundation
import Kubernetes
import SecretsStoreAPI
import StructuredJSON

/// Service-account tokens for providers, one TokenRequest per (namespace, account, audience), reused until
/// 80% of their lifetime (as the kubelet token manager upstream vendors), 600 s as upstream's policy requires.
actor TokenProvider {
    let client: KubernetesClient
    let expirationSeconds: Int
    var cache: [String: (token: ServiceAccountToken, refreshAt: Date)] = [:]
    var inFlight: [String: Task<ServiceAccountToken, any Error>] = [:]

    init(client: KubernetesClient, expirationSeconds: Int = 600) {
        self.client = client; self.expirationSeconds = expirationSeconds
    }

    /// The `csi.storage.k8s.io/serviceAccount.tokens` JSON for one audience.
    func tokensAttribute(namespace: String, serviceAccount: String, audience: String) async throws(SyncFailure) -> String {
        let token = try await token(namespace: namespace, serviceAccount: serviceAccount, audience: audience)
        let value: JSONValue = [.init(stringLiteral: audience): ["token": .string(token.token), "expirationTimestamp": .string(token.expirationTimestamp)]]
        return String(decoding: value.encoded(), as: UTF8.self)
    }

    func token(namespace: String, serviceAccount: String, audience: String) async throws(SyncFailure) -> ServiceAccountToken {
        let key = "\(namespace)/\(serviceAccount)/\(audience)"
        if let cached = cache[key], cached.refreshAt > Date() { return cached.token }
        let task: Task<ServiceAccountToken, any Error>
        if let running = inFlight[key] { task = running } else {
            let client = self.client, seconds = expirationSeconds
            task = Task { try await client.requestToken(serviceAccount: serviceAccount, namespace: namespace, audiences: [audience], expirationSeconds: seconds) }
            inFlight[key] = task
        }
        defer { inFlight[key] = nil }
        do {
            let token = try await task.value
            cache[key] = (token, Date().addingTimeInterval(Double(expirationSeconds) * 0.8))
            return token
        } catch let error as KubernetesError where error.isNotFound {
            throw SyncFailure(.userInputValidationFailed, "service account \(namespace)/\(serviceAccount) not found: create it or fix spec.serviceAccountName")
        } catch {
            if let cached = cache[key], let expires = APITime.parse(cached.token.expirationTimestamp), expires > Date().addingTimeInterval(30) {
                return cached.token // keep working on the unexpired token while the API server is unreachable
            }
            throw SyncFailure(.providerError, "cannot get a token for service account \(namespace)/\(serviceAccount) (audience \(audience)): \(error)")
        }
    }

    func forget(namespace: String) { cache = cache.filter { !$0.key.hasPrefix("\(namespace)/") } }
}
