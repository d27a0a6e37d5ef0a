/// Request counters that tests read to assert exact call counts.
actor Counters {
    struct VaultCounts: Codable, Sendable {
        var total = 0
        var byStatus: [String: Int] = [:]
        /// Requests that passed authentication, by `collection/name`.
        var byObject: [String: Int] = [:]
    }
    struct EndpointCounts: Codable, Sendable {
        var total = 0
        var byStatus: [String: Int] = [:]
        var byClient: [String: Int] = [:]
    }
    struct Snapshot: Codable, Sendable {
        var total: Int
        var vaults: [String: VaultCounts]
        var token: EndpointCounts
        var imds: EndpointCounts
    }

    private var total = 0
    private var vaults: [String: VaultCounts] = [:]
    private var token = EndpointCounts()
    private var imds = EndpointCounts()

    func vaultRequest(_ vault: String, status: Int, object: String?) {
        total += 1
        vaults[vault, default: VaultCounts()].total += 1
        vaults[vault, default: VaultCounts()].byStatus[String(status), default: 0] += 1
        if let object { vaults[vault, default: VaultCounts()].byObject[object, default: 0] += 1 }
    }

    func tokenRequest(client: String?, status: Int) {
        total += 1
        token.total += 1
        token.byStatus[String(status), default: 0] += 1
        if let client { token.byClient[client, default: 0] += 1 }
    }

    func imdsRequest(client: String?, status: Int) {
        total += 1
        imds.total += 1
        imds.byStatus[String(status), default: 0] += 1
        imds.byClient[client ?? "system", default: 0] += 1
    }

    func snapshot() -> Snapshot { Snapshot(total: total, vaults: vaults, token: token, imds: imds) }

    func reset() {
        total = 0; vaults = [:]; token = EndpointCounts(); imds = EndpointCounts()
    }
}
