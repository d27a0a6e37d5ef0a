import Prometheus

/// The help texts of a role's metrics, and their descriptors (names are upstream's; no unit suffix is added).
public struct MetricHelp: Sendable {
    let help: [String: String]

    public init(_ help: [String: String]) { self.help = help }

    /// The descriptor of metric `name`, with its help text.
    public func callAsFunction(_ name: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help[name] ?? name)
    }
}
