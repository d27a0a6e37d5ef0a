import Foundation

/// What the chaos run deploys: vault objects, SecretSyncs (Opaque and TLS, several service accounts and
/// identities) and CSI volumes, as plain values so checkers and the writer agree on names.
struct ChaosWorld: Sendable {
    static let vaults = ["chaos-a", "chaos-b"]
    static let csiClientID = "71717171-7171-4717-8717-717171717171"
    static let csiClientSecret = "chaos-csi-credential"
    /// Federated identities; service accounts sa-0 and sa-1 use the first, sa-2 and sa-3 the second.
    static let syncClientIDs = ["72727272-7272-4727-8727-727272727272", "73737373-7373-4737-8737-737373737373"]
    static let serviceAccounts = 4

    struct Object: Sendable, Hashable {
        var index: Int
        var vault: String
        var name: String
        var isPEM: Bool
    }

    /// One SecretSync: its Secret's keys, each from one object (TLS: both keys from one PEM object).
    struct Sync: Sendable {
        var namespace: String
        var name: String
        var serviceAccount: Int
        var spc: String
        var tls: Bool
        var keys: [(key: String, object: Int)]
    }

    /// One CSI volume: a pod in a namespace mounting one SecretProviderClass of file objects.
    struct Volume: Sendable {
        var index: Int
        var namespace: String
        var spc: String
        var objects: [Int]
    }

    /// A class whose pods the fault "vault outage while pods restart" replaces: one with
    /// `akvs.io/serve-stale-on-outage` and one without per vault, over the file objects of namespace chaos-0.
    struct RestartClass: Sendable {
        var namespace: String
        var name: String
        var vault: String
        var serveStale: Bool
        var objects: [Int]
    }

    var namespaces: Int
    var objects: [Object] = []
    var restartClasses: [RestartClass] = []
    var syncs: [Sync] = []
    var volumes: [Volume] = []
    /// SecretProviderClass name → (namespace, vault, client id or nil for the CSI service principal, objects).
    var classes: [(namespace: String, name: String, vault: String, clientID: String?, objects: [Int])] = []

    /// 10 namespaces: 520 SecretSyncs over 130 objects (12 Opaque + 1 PEM per namespace), 60 volumes over 40 file objects.
    init(namespaces: Int = 10, syncsPerNamespace: Int = 52, volumesPerClass: Int = 3) {
        self.namespaces = namespaces
        for n in 0..<namespaces {
            let ns = "chaos-\(n)"
            var perVault: [String: [Int]] = [:]
            for v in 0..<2 {
                for k in 0..<6 { perVault[Self.vaults[v], default: []].append(add("s-\(n)-\(v)-\(k)", vault: Self.vaults[v], pem: false)) }
            }
            let pem = add("tls-\(n)", vault: Self.vaults[n % 2], pem: true)
            perVault[Self.vaults[n % 2], default: []].append(pem)
            for v in 0..<2 {
                for i in 0..<2 {
                    let name = "sync-\(Self.vaults[v])-id\(i)"
                    classes.append((ns, name, Self.vaults[v], Self.syncClientIDs[i], perVault[Self.vaults[v]] ?? []))
                }
            }
            for j in 0..<syncsPerNamespace {
                let sa = j % Self.serviceAccounts
                let identity = sa < 2 ? 0 : 1
                let tls = j % 13 == 12
                let vault = tls ? Self.vaults[n % 2] : Self.vaults[(j / 4) % 2]
                let spc = "sync-\(vault)-id\(identity)"
                let plain = (perVault[vault] ?? []).filter { !objects[$0].isPEM }
                let keys: [(key: String, object: Int)] = tls ? [("tls.crt", pem), ("tls.key", pem)]
                    : j % 3 == 0 ? [("value", plain[j % plain.count]), ("other", plain[(j + 1) % plain.count])]
                    : [("value", plain[j % plain.count])]
                syncs.append(Sync(namespace: ns, name: "ss-\(j)", serviceAccount: sa, spc: spc, tls: tls, keys: keys))
            }
            for v in 0..<2 {
                let files = [add("f-\(n)-\(v)-0", vault: Self.vaults[v], pem: false), add("f-\(n)-\(v)-1", vault: Self.vaults[v], pem: false)]
                let spc = "files-\(Self.vaults[v])"
                classes.append((ns, spc, Self.vaults[v], nil, files))
                for _ in 0..<volumesPerClass { volumes.append(Volume(index: volumes.count, namespace: ns, spc: spc, objects: files)) }
                if n == 0 {
                    for stale in [true, false] {
                        restartClasses.append(RestartClass(namespace: ns, name: "restart-\(Self.vaults[v])-\(stale ? "stale" : "strict")", vault: Self.vaults[v],
                                                           serveStale: stale, objects: files))
                    }
                }
            }
        }
    }

    private mutating func add(_ name: String, vault: String, pem: Bool) -> Int {
        objects.append(Object(index: objects.count, vault: vault, name: name, isPEM: pem))
        return objects.count - 1
    }

    /// The emulator seed: both vaults with generation-0 values, the identities, and the test server's issuer.
    func seed(values: [Int: String], issuer: String, jwks: String) -> String {
        var lines = ["vaults:"]
        for vault in Self.vaults {
            lines += ["  - name: \(vault)", "    secrets:"]
            for o in objects where o.vault == vault {
                lines.append("      - name: \(o.name)")
                lines.append("        value: \(jsonString(values[o.index] ?? ""))")
            }
        }
        let access = "{" + Self.vaults.map { "\($0): read" }.joined(separator: ", ") + "}"
        lines += ["identities:", "  - name: chaos-csi", "    clientId: \(Self.csiClientID)", "    clientSecret: \(Self.csiClientSecret)", "    access: \(access)"]
        for (i, id) in Self.syncClientIDs.enumerated() {
            lines += ["  - name: chaos-sync-\(i)", "    clientId: \(id)", "    access: \(access)", "    federatedCredentials:"]
            for n in 0..<namespaces {
                for sa in (i * 2)..<(i * 2 + 2) { lines.append("      - {issuer: \"\(issuer)\", subject: \"system:serviceaccount:chaos-\(n):sa-\(sa)\"}") }
            }
        }
        lines += ["issuers:", "  - issuer: \"\(issuer)\"", "    jwks: \(jwks)"]
        return lines.joined(separator: "\n") + "\n"
    }

    /// The admin-API body that (re)defines an identity, with access to `vaults` only.
    func identityBody(_ which: ChaosIdentity, issuer: String, vaults: [String]) -> [String: Any] {
        var body: [String: Any] = ["access": Dictionary(uniqueKeysWithValues: vaults.map { ($0, "read") })]
        switch which {
        case .csi:
            body["name"] = "chaos-csi"; body["clientId"] = Self.csiClientID; body["clientSecret"] = Self.csiClientSecret
        case .sync(let i):
            body["name"] = "chaos-sync-\(i)"; body["clientId"] = Self.syncClientIDs[i]
            body["federatedCredentials"] = (0..<namespaces).flatMap { n in
                ((i * 2)..<(i * 2 + 2)).map { ["issuer": issuer, "subject": "system:serviceaccount:chaos-\(n):sa-\($0)"] }
            }
        }
        return body
    }
}

enum ChaosIdentity: Sendable, Hashable, CustomStringConvertible {
    case csi, sync(Int)
    var description: String { switch self { case .csi: "chaos-csi"; case .sync(let i): "chaos-sync-\(i)" } }
}

func jsonString(_ s: String) -> String {
    String(decoding: (try? JSONSerialization.data(withJSONObject: [s], options: [.withoutEscapingSlashes])) ?? Data(), as: UTF8.self).dropFirst().dropLast().description
}
