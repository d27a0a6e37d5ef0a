import StructuredJSON

/// The fields kube-apiserver's defaulting adds to built-in objects on every write (as recorded from v1.36), so that
/// readers of the test server see what they would see on a cluster: pod template defaults, workload strategies,
/// namespace finalizers, Event timestamps, Service types.
enum BuiltinDefaults {
    static func apply(_ d: ResourceDefinition, to object: inout JSONValue) {
        guard !d.custom else { return }
        let kind = d.kind
        switch (kind.group, kind.kind) {
        case ("", "Namespace"):
            object[path: ["metadata", "labels", "kubernetes.io/metadata.name"]] = object[path: ["metadata", "name"]]
            if object[path: ["spec", "finalizers"]] == nil { object[path: ["spec", "finalizers"]] = ["kubernetes"] }
        case ("", "Pod"):
            object["spec"] = podSpec(object["spec"] ?? [:])
        case ("apps", "Deployment"):
            setDefault(&object, ["spec", "replicas"], 1)
            setDefault(&object, ["spec", "strategy"], ["type": "RollingUpdate"])
            if object.text("spec", "strategy", "type") == "RollingUpdate" {
                setDefault(&object, ["spec", "strategy", "rollingUpdate", "maxUnavailable"], "25%")
                setDefault(&object, ["spec", "strategy", "rollingUpdate", "maxSurge"], "25%")
            }
            setDefault(&object, ["spec", "revisionHistoryLimit"], 10)
            setDefault(&object, ["spec", "progressDeadlineSeconds"], 600)
            template(&object, ["spec", "template"])
        case ("", "ReplicationController"):
            setDefault(&object, ["spec", "replicas"], 1)
            template(&object, ["spec", "template"])
        case ("", "PodTemplate"):
            template(&object, ["template"])
        case ("apps", "ReplicaSet"):
            setDefault(&object, ["spec", "replicas"], 1)
            template(&object, ["spec", "template"])
        case ("apps", "StatefulSet"):
            setDefault(&object, ["spec", "replicas"], 1)
            setDefault(&object, ["spec", "podManagementPolicy"], "OrderedReady")
            setDefault(&object, ["spec", "updateStrategy"], ["type": "RollingUpdate"])
            if object.text("spec", "updateStrategy", "type") == "RollingUpdate" {
                setDefault(&object, ["spec", "updateStrategy", "rollingUpdate", "partition"], 0)
            }
            setDefault(&object, ["spec", "revisionHistoryLimit"], 10)
            setDefault(&object, ["spec", "persistentVolumeClaimRetentionPolicy"], ["whenDeleted": "Retain", "whenScaled": "Retain"])
            template(&object, ["spec", "template"])
        case ("apps", "DaemonSet"):
            setDefault(&object, ["spec", "updateStrategy"], ["type": "RollingUpdate"])
            if object.text("spec", "updateStrategy", "type") == "RollingUpdate" {
                setDefault(&object, ["spec", "updateStrategy", "rollingUpdate", "maxUnavailable"], 1)
                setDefault(&object, ["spec", "updateStrategy", "rollingUpdate", "maxSurge"], 0)
            }
            setDefault(&object, ["spec", "revisionHistoryLimit"], 10)
            template(&object, ["spec", "template"])
        case ("batch", "Job"):
            job(&object, ["spec"])
        case ("batch", "CronJob"):
            setDefault(&object, ["spec", "concurrencyPolicy"], "Allow")
            setDefault(&object, ["spec", "suspend"], false)
            setDefault(&object, ["spec", "successfulJobsHistoryLimit"], 3)
            setDefault(&object, ["spec", "failedJobsHistoryLimit"], 1)
            job(&object, ["spec", "jobTemplate", "spec"])
        case ("", "Event"):
            for field in ["firstTimestamp", "lastTimestamp", "eventTime"] { setDefault(&object, [field], .null) }
            setDefault(&object, ["reportingComponent"], "")
            setDefault(&object, ["reportingInstance"], "")
            setDefault(&object, ["source"], [:])
        case ("events.k8s.io", "Event"):
            setDefault(&object, ["deprecatedSource"], [:])
            setDefault(&object, ["deprecatedFirstTimestamp"], .null)
            setDefault(&object, ["deprecatedLastTimestamp"], .null)
        case ("", "Service"):
            setDefault(&object, ["spec", "type"], "ClusterIP")
            setDefault(&object, ["spec", "sessionAffinity"], "None")
            if let ports = object[path: ["spec", "ports"]]?.arrayValue {
                object[path: ["spec", "ports"]] = .array(ports.map { port in
                    var port = port
                    setDefault(&port, ["protocol"], "TCP")
                    setDefault(&port, ["targetPort"], port["port"] ?? .null)
                    return port
                })
            }
        default:
            break
        }
    }

    /// The status a new object of a kind starts with (a struct, never omitted, on kube-apiserver).
    static func initialStatus(_ d: ResourceDefinition) -> JSONValue? {
        guard !d.custom else { return nil }
        switch (d.kind.group, d.kind.kind) {
        case ("", "Namespace"): return ["phase": "Active"]
        case ("", "Pod"): return ["phase": "Pending"]
        case ("apps", "Deployment"), ("batch", "Job"), ("batch", "CronJob"): return [:]
        case ("apps", "ReplicaSet"), ("", "ReplicationController"): return ["replicas": 0]
        case ("apps", "StatefulSet"): return ["replicas": 0, "availableReplicas": 0]
        case ("apps", "DaemonSet"): return ["currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0, "numberReady": 0]
        case ("", "Service"): return ["loadBalancer": [:]]
        default: return nil
        }
    }

    static func job(_ object: inout JSONValue, _ spec: [String]) {
        setDefault(&object, spec + ["parallelism"], 1)
        setDefault(&object, spec + ["completions"], 1)
        setDefault(&object, spec + ["backoffLimit"], 6)
        setDefault(&object, spec + ["completionMode"], "NonIndexed")
        setDefault(&object, spec + ["suspend"], false)
        setDefault(&object, spec + ["podReplacementPolicy"], "TerminatingOrFailed")
        template(&object, spec + ["template"])
    }

    static func template(_ object: inout JSONValue, _ path: [String]) {
        guard object[path: path] != nil else { return }
        object[path: path + ["spec"]] = podSpec(object[path: path + ["spec"]] ?? [:])
    }

    /// Defaults of a PodSpec, in a pod or in any pod template.
    static func podSpec(_ spec: JSONValue) -> JSONValue {
        var spec = spec
        for list in ["containers", "initContainers"] {
            guard let containers = spec[list]?.arrayValue else { continue }
            spec[list] = .array(containers.map(container))
        }
        setDefault(&spec, ["restartPolicy"], "Always")
        setDefault(&spec, ["terminationGracePeriodSeconds"], 30)
        setDefault(&spec, ["dnsPolicy"], "ClusterFirst")
        setDefault(&spec, ["securityContext"], [:])
        setDefault(&spec, ["schedulerName"], "default-scheduler")
        if let volumes = spec["volumes"]?.arrayValue { spec["volumes"] = .array(volumes.map(volume)) }
        return spec
    }

    static func container(_ container: JSONValue) -> JSONValue {
        var c = container
        setDefault(&c, ["resources"], [:])
        setDefault(&c, ["terminationMessagePath"], "/dev/termination-log")
        setDefault(&c, ["terminationMessagePolicy"], "File")
        setDefault(&c, ["imagePullPolicy"], .string(pullPolicy(c.text("image") ?? "")))
        if let ports = c["ports"]?.arrayValue {
            c["ports"] = .array(ports.map { var p = $0; setDefault(&p, ["protocol"], "TCP"); return p })
        }
        if let env = c["env"]?.arrayValue {
            c["env"] = .array(env.map { var e = $0; if e[path: ["valueFrom", "fieldRef"]] != nil { setDefault(&e, ["valueFrom", "fieldRef", "apiVersion"], "v1") }; return e })
        }
        return c
    }

    /// `Always` for `:latest` or an untagged image, else `IfNotPresent`.
    static func pullPolicy(_ image: String) -> String {
        if image.contains("@") { return "IfNotPresent" }
        let last = image.split(separator: "/").last.map(String.init) ?? image
        guard let colon = last.lastIndex(of: ":") else { return "Always" }
        return last[last.index(after: colon)...] == "latest" ? "Always" : "IfNotPresent"
    }

    static func volume(_ volume: JSONValue) -> JSONValue {
        var v = volume
        for source in ["secret", "configMap", "projected", "downwardAPI"] where v[source] != nil {
            setDefault(&v, [source, "defaultMode"], 420)
        }
        if let sources = v[path: ["projected", "sources"]]?.arrayValue {
            v[path: ["projected", "sources"]] = .array(sources.map { source in
                var s = source
                if s["serviceAccountToken"] != nil { setDefault(&s, ["serviceAccountToken", "expirationSeconds"], 3600) }
                return s
            })
        }
        return v
    }

    static func setDefault(_ object: inout JSONValue, _ path: [String], _ value: JSONValue) {
        if object[path: path] == nil { object[path: path] = value }
    }
}
