import Foundation

/// Failures the test server injects into API requests.
public struct APIServerFaults: Codable, Sendable, Equatable {
    /// Added before every API request is handled.
    public var latencyMs: Int?
    /// Share of API requests answered 500 InternalError (0...1).
    public var errorRate: Double?
    /// The next `count` API requests are answered 429 with `Retry-After`.
    public var throttle: Throttle?
    /// Watch requests are answered 503 (lists and writes still work), so clients fall behind.
    public var rejectWatches: Bool?
    /// TokenRequests (`serviceaccounts/NAME/token`) are answered 503, as when the token signer is unavailable.
    public var refuseTokenRequests: Bool?
    /// Watch-list requests (`sendInitialEvents=true`) get the one ERROR event of a kube-apiserver whose etcd lacks
    /// watch progress notifications (etcd before 3.5.13, as recorded); clients must fall back to list + watch.
    public var watchListUnsupported: Bool?

    public struct Throttle: Codable, Sendable, Equatable {
        public var count: Int
        public var retryAfterSeconds: Int
        public init(count: Int, retryAfterSeconds: Int) { self.count = count; self.retryAfterSeconds = retryAfterSeconds }
    }

    public init(latencyMs: Int? = nil, errorRate: Double? = nil, throttle: Throttle? = nil, rejectWatches: Bool? = nil, refuseTokenRequests: Bool? = nil,
                watchListUnsupported: Bool? = nil) {
        self.latencyMs = latencyMs; self.errorRate = errorRate; self.throttle = throttle; self.rejectWatches = rejectWatches
        self.refuseTokenRequests = refuseTokenRequests; self.watchListUnsupported = watchListUnsupported
    }
}

/// The fault switchboard; shared by all requests.
actor Faults {
    var settings = APIServerFaults()

    func set(_ new: APIServerFaults) { settings = new }
    var rejectsWatches: Bool { settings.rejectWatches ?? false }
    var refusesTokenRequests: Bool { settings.refuseTokenRequests ?? false }
    var refusesWatchList: Bool { settings.watchListUnsupported ?? false }

    /// Decides the fate of one API request: a delay, then possibly an error to answer instead.
    func next() -> (delay: Int, error: APIError?) {
        let delay = settings.latencyMs ?? 0
        if var throttle = settings.throttle, throttle.count > 0 {
            throttle.count -= 1
            settings.throttle = throttle.count > 0 ? throttle : nil
            return (delay, APIError(code: 429, reason: "TooManyRequests", message: "Too many requests, please try again later.",
                                    details: ["retryAfterSeconds": .number(Double(throttle.retryAfterSeconds))],
                                    headers: [("Retry-After", String(throttle.retryAfterSeconds))]))
        }
        if let rate = settings.errorRate, rate > 0, Double.random(in: 0..<1) < rate {
            return (delay, APIError(code: 500, reason: "InternalError", message: "Internal error occurred: injected by the test server"))
        }
        return (delay, nil)
    }
}
