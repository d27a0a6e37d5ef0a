import StructuredJSON

/// Whether a system pod (driver, provider, controller) is Running and Ready, and why not.
enum PodHealth {
    static func check(_ pod: JSONValue, id: String, role: String) -> Check {
        let name = pod.objectName
        let namespace = pod.text("metadata", "namespace") ?? ""
        let podName = pod.text("metadata", "name") ?? ""
        let phase = pod.text("status", "phase") ?? "Unknown"
        let ready = pod.list("status", "conditions").contains { $0.text("type") == "Ready" && $0.text("status") == "True" }
        let statuses = pod.list("status", "containerStatuses")
        let restarts = statuses.reduce(0) { $0 + Int($1["restartCount"]?.numberValue ?? 0) }
        var problems: [String] = []
        var failing: String?
        for status in statuses {
            let container = status.text("name") ?? "?"
            if let waiting = status.text("state", "waiting", "reason") {
                problems.append("\(container) waiting: \(waiting)")
                failing = failing ?? container
            }
            if let reason = status.text("lastState", "terminated", "reason") {
                let code = status[path: ["lastState", "terminated", "exitCode"]]?.numberValue.map { " (exit \(Int($0)))" } ?? ""
                problems.append("\(container) last terminated: \(reason)\(code)")
                if status["ready"]?.boolValue != true { failing = failing ?? container }
            }
        }
        let summary = "\(phase), \(ready ? "Ready" : "not Ready"), \(restarts) restart\(restarts == 1 ? "" : "s")"
            + (problems.isEmpty ? "" : "; " + problems.joined(separator: "; "))
        if phase == "Running" && ready {
            return restarts > 0 && !problems.isEmpty
                ? .warning(id, "\(role) pod \(name)", summary, fix: "kubectl logs -n \(namespace) \(podName) --all-containers --previous")
                : .ok(id, "\(role) pod \(name)", summary)
        }
        let container = failing.map { " -c \($0)" } ?? " --all-containers"
        return .failure(id, "\(role) pod \(name)", summary,
                        fix: "kubectl logs -n \(namespace) \(podName)\(container) --previous; kubectl describe pod -n \(namespace) \(podName)")
    }
}
