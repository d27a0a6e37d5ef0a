import Foundation
import SecretsStoreAPI
import StructuredJSON
import Yams

/// One served version of a CRD: what kube-apiserver does with every write of its custom resources
/// (defaulting, pruning of unknown fields, OpenAPI validation) and how `kubectl get` prints them.
public struct CustomResourceVersion: Sendable, Hashable {
    /// `openAPIV3Schema`.
    var schema: JSONValue
    var printerColumns: [PrinterColumn]
    var statusSubresource: Bool
    var shortNames: [String]
    /// The schema has CEL rules (`x-kubernetes-validations`). The test server does not evaluate CEL; like
    /// kube-apiserver, it says they were not checked when the object already failed the schema.
    var hasValidationRules: Bool

    /// The version as the chart's CRD (charts/akvs/crds, embedded in SecretsStoreAPI) defines it.
    static func chart(group: String, kind: String, version: String) -> CustomResourceVersion? {
        for text in CRDManifests.files.values {
            guard let documents = try? Yams.compose_all(yaml: text) else { continue }
            for document in documents {
                let crd = YAMLConversion.json(document)
                guard crd.text("kind") == "CustomResourceDefinition", crd.text("spec", "group") == group,
                      crd.text("spec", "names", "kind") == kind,
                      let served = crd.list("spec", "versions").first(where: { $0.text("name") == version }) else { continue }
                return CustomResourceVersion(crd: crd, version: served)
            }
        }
        return nil
    }

    init(crd: JSONValue, version: JSONValue) {
        schema = version[path: ["schema", "openAPIV3Schema"]] ?? ["type": "object", "x-kubernetes-preserve-unknown-fields": true]
        printerColumns = version.list("additionalPrinterColumns").map(PrinterColumn.init)
        statusSubresource = version[path: ["subresources", "status"]] != nil
        shortNames = crd.list("spec", "names", "shortNames").compactMap(\.stringValue)
        hasValidationRules = Self.containsRules(schema)
    }

    static func containsRules(_ schema: JSONValue) -> Bool {
        if !(schema.list("x-kubernetes-validations").isEmpty) { return true }
        let children = (schema["properties"]?.objectValue?.values.map { $0 } ?? []) + [schema["items"], schema["additionalProperties"]].compactMap { $0 }
        return children.contains { $0.objectValue != nil && containsRules($0) }
    }
}

/// One `additionalPrinterColumns` entry.
struct PrinterColumn: Sendable, Hashable {
    var name: String
    var type: String
    var format: String
    var description: String
    var priority: Int
    var jsonPath: String

    init(_ value: JSONValue) {
        name = value.text("name") ?? ""
        type = value.text("type") ?? "string"
        format = value.text("format") ?? ""
        jsonPath = value.text("jsonPath") ?? ""
        description = value.text("description") ?? "Custom resource definition column (in JSONPath format): \(jsonPath)"
        priority = Int(value["priority"]?.numberValue ?? 0)
    }
}

/// A field-level failure, as a `details.causes` entry of an Invalid Status.
struct FieldCause: Sendable, Equatable {
    var reason: String
    var field: String
    var message: String

    static func required(_ field: String) -> FieldCause { FieldCause(reason: "FieldValueRequired", field: field, message: "Required value") }
    static func invalid(_ field: String, _ value: JSONValue, _ detail: String) -> FieldCause {
        FieldCause(reason: "FieldValueInvalid", field: field, message: "Invalid value: \(render(value)): \(detail)")
    }

    var json: JSONValue { ["reason": .string(reason), "message": .string(message), "field": .string(field)] }

    /// A value as Go's field errors print it: strings quoted, numbers bare, objects as JSON.
    static func render(_ value: JSONValue) -> String {
        switch value {
        case .string(let s): return String(decoding: JSONValue.string(s).encoded(), as: UTF8.self)
        case .number(let n): return n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(n)
        case .bool(let b): return String(b)
        case .null: return "null"
        case .object, .array: return String(decoding: value.encoded(), as: UTF8.self)
        }
    }
}

/// Defaulting, pruning and validation of a custom resource by its structural schema, in kube-apiserver's order.
struct StructuralSchema {
    let version: CustomResourceVersion

    /// The fields kube-apiserver keeps in `metadata` (everything else there is pruned).
    static let metadataFields: Set<String> = ["name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
                                              "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels",
                                              "annotations", "ownerReferences", "finalizers", "managedFields"]

    /// Applies `default`s where a field is absent.
    func defaulted(_ object: JSONValue) -> JSONValue { Self.defaults(object, version.schema) }

    static func defaults(_ value: JSONValue, _ schema: JSONValue) -> JSONValue {
        switch value {
        case .object(var members):
            for (name, property) in schema["properties"]?.objectValue ?? [:] {
                if members[name] == nil, let fallback = property["default"] { members[name] = fallback }
                if let child = members[name] { members[name] = defaults(child, property) }
            }
            if let extra = schema["additionalProperties"], extra.objectValue != nil {
                let known = Set((schema["properties"]?.objectValue ?? [:]).keys)
                for (name, child) in members where !known.contains(name) { members[name] = defaults(child, extra) }
            }
            return .object(members)
        case .array(let items):
            guard let itemSchema = schema["items"] else { return value }
            return .array(items.map { defaults($0, itemSchema) })
        default:
            return value
        }
    }

    /// Drops fields the schema does not declare; returns them as paths (`spec.bogus`) for the strict/warn field validation.
    func pruned(_ object: JSONValue) -> (JSONValue, unknown: [String]) {
        var unknown: [String] = []
        var result = Self.prune(object, version.schema, path: "", unknown: &unknown, root: true)
        if let metadata = object["metadata"]?.objectValue {
            result["metadata"] = .object(metadata.filter { key, _ in
                if Self.metadataFields.contains(key) { return true }
                unknown.append("metadata.\(key)")
                return false
            })
        }
        return (result, unknown)
    }

    static func prune(_ value: JSONValue, _ schema: JSONValue, path: String, unknown: inout [String], root: Bool = false) -> JSONValue {
        if schema["x-kubernetes-preserve-unknown-fields"]?.boolValue == true, schema["properties"] == nil { return value }
        switch value {
        case .object(let members):
            let properties = schema["properties"]?.objectValue ?? [:]
            let extra = schema["additionalProperties"].flatMap { $0.objectValue != nil ? $0 : nil }
            let preserve = schema["x-kubernetes-preserve-unknown-fields"]?.boolValue == true || schema["additionalProperties"]?.boolValue == true
            var kept: [String: JSONValue] = [:]
            for (name, child) in members {
                let childPath = path.isEmpty ? name : "\(path).\(name)"
                if root, ["apiVersion", "kind", "metadata"].contains(name) { kept[name] = child; continue }
                if let property = properties[name] {
                    kept[name] = prune(child, property, path: childPath, unknown: &unknown)
                } else if let extra {
                    kept[name] = prune(child, extra, path: childPath, unknown: &unknown)
                } else if preserve || (properties.isEmpty && schema["type"]?.stringValue != "object") {
                    kept[name] = child
                } else {
                    unknown.append(childPath)
                }
            }
            return .object(kept)
        case .array(let items):
            guard let itemSchema = schema["items"] else { return value }
            return .array(items.enumerated().map { prune($1, itemSchema, path: "\(path)[\($0)]", unknown: &unknown) })
        default:
            return value
        }
    }

    /// Every schema violation, sorted by field as kube-apiserver lists them; when there are any and the schema has
    /// CEL rules, the note that those rules were not checked comes last.
    func violations(_ object: JSONValue) -> [FieldCause] {
        var causes: [FieldCause] = []
        var body = object
        body["metadata"] = nil; body["apiVersion"] = nil; body["kind"] = nil
        var schema = version.schema
        if var properties = schema["properties"]?.objectValue {
            for key in ["metadata", "apiVersion", "kind"] { properties[key] = nil }
            schema["properties"] = .object(properties)
        }
        Self.check(body, schema, path: "", into: &causes)
        causes.sort { $0.field < $1.field }
        if !causes.isEmpty, version.hasValidationRules {
            causes.append(.invalid("<nil>", .null, "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"))
        }
        return causes
    }

    static func check(_ value: JSONValue, _ schema: JSONValue, path: String, into causes: inout [FieldCause]) {
        if value == .null {
            if schema["nullable"]?.boolValue != true, !path.isEmpty { causes.append(typeError(path, value, schema)) }
            return
        }
        guard typeMatches(value, schema["type"]?.stringValue) else { causes.append(typeError(path, value, schema)); return }
        let at = path.isEmpty ? "body" : "\(path) in body"
        if let allowed = schema["enum"]?.arrayValue, !allowed.contains(value) {
            causes.append(FieldCause(reason: "FieldValueNotSupported", field: path,
                                     message: "Unsupported value: \(FieldCause.render(value)): supported values: " + allowed.map(FieldCause.render).joined(separator: ", ")))
        }
        switch value {
        case .object(let members):
            for name in (schema["required"]?.arrayValue ?? []).compactMap(\.stringValue) where members[name] == nil {
                causes.append(.required(path.isEmpty ? name : "\(path).\(name)"))
            }
            if let max = schema["maxProperties"]?.numberValue, Double(members.count) > max {
                causes.append(FieldCause(reason: "FieldValueTooMany", field: path, message: "Too many: \(members.count): must have at most \(Int(max)) items"))
            }
            let properties = schema["properties"]?.objectValue ?? [:]
            let extra = schema["additionalProperties"].flatMap { $0.objectValue != nil ? $0 : nil }
            for (name, child) in members {
                let childPath = path.isEmpty ? name : "\(path).\(name)"
                if let property = properties[name] { check(child, property, path: childPath, into: &causes) }
                else if let extra { check(child, extra, path: childPath, into: &causes) }
            }
        case .array(let items):
            if let min = schema["minItems"]?.numberValue, Double(items.count) < min {
                causes.append(.invalid(path, .number(Double(items.count)), "\(at) should have at least \(Int(min)) items"))
            }
            if let max = schema["maxItems"]?.numberValue, Double(items.count) > max {
                causes.append(FieldCause(reason: "FieldValueTooMany", field: path, message: "Too many: \(items.count): must have at most \(Int(max)) items"))
            }
            if let itemSchema = schema["items"] {
                for (index, item) in items.enumerated() { check(item, itemSchema, path: "\(path)[\(index)]", into: &causes) }
            }
        case .string(let text):
            let length = text.unicodeScalars.count
            if let min = schema["minLength"]?.numberValue, Double(length) < min {
                causes.append(.invalid(path, value, "\(at) should be at least \(Int(min)) chars long"))
            }
            if let max = schema["maxLength"]?.numberValue, Double(length) > max {
                causes.append(FieldCause(reason: "FieldValueTooLong", field: path, message: "Too long: may not be more than \(Int(max)) bytes"))
            }
            if let pattern = schema["pattern"]?.stringValue, let regex = try? NSRegularExpression(pattern: pattern),
               regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) == nil {
                causes.append(.invalid(path, value, "\(at) should match '\(pattern)'"))
            }
        case .number(let number):
            if let min = schema["minimum"]?.numberValue, number < min {
                causes.append(.invalid(path, value, "\(at) should be greater than or equal to \(FieldCause.render(.number(min)))"))
            }
            if let max = schema["maximum"]?.numberValue, number > max {
                causes.append(.invalid(path, value, "\(at) should be less than or equal to \(FieldCause.render(.number(max)))"))
            }
        default:
            break
        }
    }

    static func typeMatches(_ value: JSONValue, _ type: String?) -> Bool {
        switch (type, value) {
        case (nil, _), ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("number", .number): return true
        case ("integer", .number(let n)): return n == n.rounded()
        default: return false
        }
    }

    static func typeError(_ path: String, _ value: JSONValue, _ schema: JSONValue) -> FieldCause {
        let actual: String
        switch value {
        case .object: actual = "object"
        case .array: actual = "array"
        case .string: actual = "string"
        case .bool: actual = "boolean"
        case .number(let n): actual = n == n.rounded() ? "integer" : "number"
        case .null: actual = "null"
        }
        let expected = schema["type"]?.stringValue ?? "object"
        return FieldCause(reason: "FieldValueTypeInvalid", field: path,
                          message: "Invalid value: \"\(actual)\": \(path.isEmpty ? "body" : "\(path) in body") must be of type \(expected): \"\(actual)\"")
    }
}
