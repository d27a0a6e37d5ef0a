/// akvs' extension of the provider API, invisible to upstream peers: a failed Mount carries the kind of failure
/// (`throttled`, `unreachable`, `forbidden`, `notFound`, …) in this trailing metadata key, so an akvs driver can tell a
/// vault outage from an error that must fail the mount.
public enum MountFailureTrailer {
    public static let key = "akvs-failure-class"
}
