import Foundation

/// A file the driver writes into the mount (path relative to the target).
public struct MountedFile: Sendable, Equatable {
    public var path: String
    public var mode: Int32
    public var contents: [UInt8]
    public init(path: String, mode: Int32, contents: [UInt8]) { self.path = path; self.mode = mode; self.contents = contents }
}

/// `<type>/<name>` (or `<type>/<name>/<index>`) and the Key Vault version it came from.
public struct MountedObjectVersion: Sendable, Equatable {
    public var id: String
    public var version: String
    public init(id: String, version: String) { self.id = id; self.version = version }
}

/// When an object version is usable: Key Vault's `nbf` and `exp` attributes, and for a certificate also its own
/// notBefore/notAfter (the later start and the earlier end count).
public struct ObjectValidity: Sendable, Equatable {
    public var notBefore: Date?
    public var expires: Date?
    public init(notBefore: Date? = nil, expires: Date? = nil) { self.notBefore = notBefore; self.expires = expires }

    /// Narrows to what both say.
    func intersecting(notBefore other: Date?, expires otherEnd: Date?) -> ObjectValidity {
        ObjectValidity(notBefore: [notBefore, other].compactMap { $0 }.max(), expires: [expires, otherEnd].compactMap { $0 }.min())
    }
}

/// Everything one mount produced; all objects, or an error.
public struct MountResult: Sendable {
    /// Each file with the object version it came from, in SPC order.
    public var entries: [(file: MountedFile, version: MountedObjectVersion)]
    /// Validity by object version id (`secret/db`, `secret/db/1`), for the objects that have one.
    public var validity: [String: ObjectValidity] = [:]
    /// Optional objects that do not exist or are disabled (`secret/name`): no file was written for them.
    public var missingOptional: [String] = []

    public var files: [MountedFile] { entries.map(\.file) }

    /// Distinct object versions, in order.
    public var objectVersions: [MountedObjectVersion] {
        var seen: [MountedObjectVersion] = []
        for entry in entries where !seen.contains(entry.version) { seen.append(entry.version) }
        return seen
    }
}

/// Objects fetched one by one: what was delivered and what failed (by file name).
public struct PartialMount: Sendable {
    public var vault: String
    public var podName: String
    public var podNamespace: String
    public var entries: [(file: MountedFile, version: MountedObjectVersion)] = []
    public var failures: [(fileName: String, failure: ObjectFailure)] = []
    /// Validity by object version id, for the delivered objects that have one.
    public var validity: [String: ObjectValidity] = [:]
    /// Optional objects that do not exist or are disabled (`secret/name`).
    public var missingOptional: [String] = []
}
