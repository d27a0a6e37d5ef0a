import Foundation
import NIOCore
import SecretsStoreAPI
import StructuredJSON

/// One object as stored: its JSON, its encoded bytes (encoded once per write), and field ownership.
struct StoredObject: Sendable {
    var value: JSONValue
    var bytes: ByteBuffer
    /// How it appears among the items of a list: kube-apiserver leaves `kind` and `apiVersion` out of the items of a
    /// built-in kind's list (custom resources keep them).
    var listBytes: ByteBuffer
    var ownership: FieldOwnership

    init(value: JSONValue, ownership: FieldOwnership, listItem withoutTypeMeta: Bool) {
        var value = value
        value[path: ["metadata", "managedFields"]] = ownership.entries.isEmpty ? nil : ownership.managedFields()
        self.value = value
        self.bytes = ByteBuffer(data: value.encoded())
        if withoutTypeMeta, case .object(var members) = value {
            members["kind"] = nil
            members["apiVersion"] = nil
            self.listBytes = ByteBuffer(data: JSONValue.object(members).encoded())
        } else {
            self.listBytes = bytes
        }
        self.ownership = ownership
    }

    var resourceVersion: Int { Int(value[path: ["metadata", "resourceVersion"]]?.stringValue ?? "") ?? 0 }
    var uid: String { value[path: ["metadata", "uid"]]?.stringValue ?? "" }
    var labels: [String: String] {
        (value[path: ["metadata", "labels"]]?.objectValue ?? [:]).compactMapValues(\.stringValue)
    }
    var ownerUIDs: [String] {
        (value[path: ["metadata", "ownerReferences"]]?.arrayValue ?? []).compactMap { $0["uid"]?.stringValue }
    }
}

/// Which objects a list or watch wants.
struct ObjectFilter: Sendable {
    var definition: ResourceDefinition
    var namespace: String?
    var labels: LabelSelector?
    var fields: FieldSelector?

    func matches(_ value: JSONValue) -> Bool {
        if let namespace, value[path: ["metadata", "namespace"]]?.stringValue != namespace { return false }
        if let labels, !labels.matches((value[path: ["metadata", "labels"]]?.objectValue ?? [:]).compactMapValues(\.stringValue)) { return false }
        if let fields, !fields.matches(value) { return false }
        return true
    }
}

/// One change, kept for watches that resume from an older resourceVersion.
struct HistoryEvent: Sendable {
    var revision: Int
    var kind: ResourceKind
    var type: String
    var object: JSONValue
    var bytes: ByteBuffer
    var previous: JSONValue?
}

enum WatchLine {
    static func encode(type: String, objectBytes: ByteBuffer) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.reserveCapacity(objectBytes.readableBytes + 32)
        buffer.writeString("{\"type\":\"\(type)\",\"object\":")
        buffer.writeImmutableBuffer(objectBytes)
        buffer.writeString("}\n")
        return buffer
    }
}
