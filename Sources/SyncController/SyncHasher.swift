import Crypto
import Foundation
import SecretsStoreAPI
import Serving

/// Change detection without a slow KDF: HMAC-SHA256 under a controller-held key over the Secret's content
/// and the inputs that force a resync. Without the key a status reader cannot test guesses of a value
/// (the leak resistance upstream buys with 100,000 PBKDF2 rounds), at a microsecond per reconcile.
struct SyncHasher: Sendable {
    let key: SymmetricKey

    func hash(sync: SecretSync, spc: SecretProviderClass, data: [String: Data]) -> String {
        var mac = HMAC<SHA256>(key: key)
        func feed(_ s: String) { mac.update(data: Data("\(s.utf8.count):".utf8)); mac.update(data: Data(s.utf8)) }
        for key in data.keys.sorted() {
            feed(key)
            let value = data[key]!
            mac.update(data: Data("\(value.count):".utf8)); mac.update(data: value)
        }
        let object = sync.spec.secretObject
        feed(object.type ?? "Opaque")
        for (k, v) in (object.labels ?? [:]).sorted(by: { $0.key < $1.key }) { feed("l:\(k)"); feed(v) }
        for (k, v) in (object.annotations ?? [:]).sorted(by: { $0.key < $1.key }) { feed("a:\(k)"); feed(v) }
        feed(spc.metadata.uid ?? ""); feed(String(spc.metadata.generation ?? 0))
        feed(sync.metadata.uid ?? ""); feed(String(sync.metadata.generation ?? 0))
        feed(sync.spec.forceSynchronization ?? "")
        return "akvs1:" + lowercaseHex(mac.finalize())
    }
}
