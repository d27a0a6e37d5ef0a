import Foundation
import Logging
import SecretsStoreAPI
import StructuredJSON

/// Records `events.k8s.io/v1` Events. Repeats of the same event (same object, reason, action, type and
/// note) within the series window update one Event's `series.count` instead of creating new ones.
/// Notes are written by akvs from error descriptions, which never contain secret values; they are capped at 1 KiB.
public actor EventRecorder {
    let client: KubernetesClient
    let controller: String
    let instance: String
    let logger: Logger
    let seriesWindow: Duration
    var recent: [SeriesKey: (name: String, namespace: String, count: Int, at: ContinuousClock.Instant)] = [:]

    struct SeriesKey: Hashable {
        var regarding: ObjectReference
        var reason: String
        var action: String
        var type: String
        var note: String
    }

    /// `controller` is the reporting controller (e.g. `secrets-store.csi.k8s.io`), `instance` the pod or node.
    public init(client: KubernetesClient, controller: String, instance: String, seriesWindow: Duration = .seconds(360),
                logger: Logger = Logger(label: "akvs.events")) {
        self.client = client; self.controller = controller; self.instance = instance; self.seriesWindow = seriesWindow; self.logger = logger
    }

    public enum EventType: String, Sendable { case normal = "Normal", warning = "Warning" }

    /// Series remembered now (bounded by `seriesCapacity`).
    public var rememberedSeries: Int { recent.count }

    /// Series remembered at most (a repeat of a forgotten one starts a new Event, as after a restart).
    static let seriesCapacity = 4096

    /// Drops expired series; if the window still holds more than half the capacity (a fleet's creates), keeps the
    /// newest half, so trimming happens once per capacity/2 events instead of a full scan on every event.
    func trim(now: ContinuousClock.Instant) {
        recent = recent.filter { now - $0.value.at < seriesWindow }
        guard recent.count > Self.seriesCapacity / 2 else { return }
        let newest = recent.sorted { $0.value.at > $1.value.at }.prefix(Self.seriesCapacity / 2)
        recent = Dictionary(uniqueKeysWithValues: newest.map { ($0.key, $0.value) })
    }

    /// Records an event about `regarding`. Failures are logged, never thrown: events are best effort.
    public func record(_ type: EventType, regarding: ObjectReference, reason: String, action: String, note: String) async {
        // A cancelled caller (a controller whose leadership ended) writes nothing more.
        guard !Task.isCancelled else { return }
        let note = note.count > 1024 ? String(note.prefix(1021)) + "..." : note
        var ref = regarding
        ref.resourceVersion = nil
        let key = SeriesKey(regarding: ref, reason: reason, action: action, type: type.rawValue, note: note)
        let now = ContinuousClock.now
        let time = APITime.micro(Date())
        do {
            if let existing = recent[key], now - existing.at < seriesWindow {
                let count = existing.count + 1
                _ = try await client.patch(Event.self, name: existing.name, namespace: existing.namespace,
                                           .merge(["series": ["count": .number(Double(count)), "lastObservedTime": .string(time)]]))
                recent[key] = (existing.name, existing.namespace, count, now)
                return
            }
            let namespace = regarding.namespace ?? "default"
            let event = Event(metadata: ObjectMeta(name: "\(regarding.name ?? "object").\(Self.suffix())", namespace: namespace),
                              eventTime: time, series: nil, reportingController: controller, reportingInstance: instance, action: action,
                              reason: reason, regarding: regarding, note: note, type: type.rawValue)
            let created = try await client.create(event)
            recent[key] = (created.metadata.name ?? "", namespace, 1, now)
            if recent.count > Self.seriesCapacity { trim(now: now) }
        } catch {
            logger.warning("cannot record event", metadata: ["reason": "\(reason)", "object": "\(regarding.namespace ?? "")/\(regarding.name ?? "")", "error": "\(error)"])
        }
    }

    /// Event names are unique: the object name plus a random hex suffix, as client-go does.
    static func suffix() -> String { String(UInt64.random(in: 0...UInt64.max), radix: 16) }

}
