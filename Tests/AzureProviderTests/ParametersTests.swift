import AzureProvider
import Foundation
import Testing

@Suite struct ParametersTests {
    static let base: [String: String] = [
        "keyvaultName": "test-kv", "tenantId": "6f1b2c3d-0000-4000-8000-000000000001",
        "csi.storage.k8s.io/pod.name": "web-0", "csi.storage.k8s.io/pod.namespace": "apps",
        "objects": "array:\n  - |\n    objectName: plain\n    objectType: secret\n",
    ]

    func parse(_ changes: [String: String?]) throws -> MountParameters {
        var attributes = Self.base
        for (k, v) in changes { attributes[k] = v }
        return try MountParameters.parse(attributes)
    }

    func expectError(_ changes: [String: String?], mentions: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(sourceLocation: sourceLocation) {
            _ = try parse(changes)
        } throws: { error in
            let text = "\(error)"
            return error is ProviderError && mentions.allSatisfy { text.contains($0) }
        }
    }

    @Test func validMinimalMountUsesServicePrincipal() throws {
        let p = try parse([:])
        #expect(p.identity == .servicePrincipal && p.objects.count == 1 && p.objects[0].fileName == "plain")
        #expect(try parse(["tenantID": "72f988bf-86f1-41af-91ab-2d7cd011db47"]).tenantID == "72f988bf-86f1-41af-91ab-2d7cd011db47")
        #expect(try parse(["clientID": "11111111-1111-4111-8111-111111111111"]).identity == .workloadIdentity(clientID: "11111111-1111-4111-8111-111111111111"))
        #expect(try parse(["useVMManagedIdentity": "True"]).identity == .managedIdentity(clientID: nil))
    }

    @Test func requiredParametersNameTheFix() {
        expectError(["keyvaultName": nil], mentions: ["keyvaultName", "is not set"])
        expectError(["keyvaultName": "bad_name"], mentions: ["keyvaultName", "bad_name"])
        expectError(["tenantId": nil], mentions: ["tenantId", "is not set"])
        expectError(["objects": nil], mentions: ["objects is not set"])
    }

    @Test func podAttributesAreOptionalAsUpstream() throws {
        // The upstream sync controller sends an empty pod name when SYNC_CONTROLLER_POD_NAME is unset.
        let parameters = try parse(["csi.storage.k8s.io/pod.name": "", "csi.storage.k8s.io/pod.namespace": nil])
        #expect(parameters.podName.isEmpty && parameters.podNamespace.isEmpty)
    }

    @Test func identityModes() {
        expectError(["useVMManagedIdentity": "yes"], mentions: ["useVMManagedIdentity", "not a boolean"])
        expectError(["useVMManagedIdentity": "true", "usePodIdentity": "true"], mentions: ["only one identity mode"])
        expectError(["usePodIdentity": "true"], mentions: ["deprecated", "workload identity"])
        expectError(["clientID": "app"], mentions: ["clientID", "GUID"])
        expectError(["useVMManagedIdentity": "true", "userAssignedIdentityID": "x"], mentions: ["userAssignedIdentityID"])
    }

    func objects(_ items: [String]) -> [String: String?] {
        ["objects": "array:\n" + items.map { "  - |\n" + $0.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n") + "\n" }.joined()]
    }

    @Test func objectErrorsNameObjectAndField() {
        expectError(objects(["objectName: a\nobjectType: blob"]), mentions: ["objects[0] (a).objectType", "secret, key or cert"])
        expectError(objects(["objectName: k\nobjectType: key\nobjectFormat: pfx"]), mentions: ["objectFormat", "PFX format only supported for objectType: secret"])
        expectError(objects(["objectName: k\nobjectType: key\nobjectEncoding: hex"]), mentions: ["objectEncoding only supported"])
        expectError(objects(["objectName: s\nobjectType: secret\nobjectEncoding: rot13"]), mentions: ["invalid objectEncoding: rot13"])
        expectError(objects(["objectName: s\nobjectType: secret\nobjectFormat: der"]), mentions: ["invalid objectFormat: der"])
        expectError(objects(["objectName: s\nobjectType: secret\nfilePermission: 0999"]), mentions: ["filePermission", "octal"])
        expectError(objects(["objectName: s\nobjectType: secret\nobjectVersion: v2"]), mentions: ["objectVersion"])
        expectError(objects(["objectType: secret"]), mentions: ["objectName", "required"])
        expectError(objects(["objectname: s\nobjectType: secret"]), mentions: ["did you mean objectName"])
        expectError(objects(["objectName: s\nobjectType: secret\nobjectVersionHistory: many"]), mentions: ["objectVersionHistory"])
        expectError(["objects": "array: [\n"], mentions: ["objects", "not valid YAML"])
        expectError(["objects": "- objectName: a"], mentions: ["'array'"])
    }

    @Test func fileNamesStayInsideTheMount() {
        for alias in ["../etc/passwd", "/etc/passwd", "a/b", "..", "x..y"] {
            expectError(objects(["objectName: s\nobjectType: secret\nobjectAlias: \"\(alias)\""]), mentions: ["objectAlias", "file name"])
        }
        expectError(objects(["objectName: s\nobjectType: secret\nobjectAlias: \"a\\0b\""]), mentions: ["NUL"])
        expectError(objects(["objectName: s\nobjectType: secret", "objectName: t\nobjectType: secret\nobjectAlias: s"]),
                    mentions: ["objects[1] (t)", "objects[0] (s) already writes", "distinct objectAlias"])
    }

    @Test func objectFieldsParse() throws {
        let p = try parse(objects([
            "objectName: s\nobjectType: secret\nobjectVersion: latest\nobjectEncoding: Base64\nfilePermission: \"0600\"\nobjectAlias: s.bin",
            "objectName: c\nobjectType: cert\nobjectVersionHistory: 3",
        ]))
        #expect(p.objects[0].objectVersion == "" && p.objects[0].filePermission == 0o600 && p.objects[0].fileName == "s.bin")
        #expect(p.objects[1].objectVersionHistory == 3 && p.objects[1].objectType == .cert)
        // Items may also be YAML maps, and an empty array mounts nothing.
        #expect(try parse(["objects": "array:\n  - objectName: m\n    objectType: key\n"]).objects[0].objectName == "m")
        #expect(try parse(["objects": "array: []"]).objects.isEmpty)
    }

    @Test func serviceAccountTokens() throws {
        let tokens = #"{"api://AzureADTokenExchange":{"token":"eyJ.x.y","expirationTimestamp":"2030-01-01T00:00:00Z"}}"#
        #expect(try parse(["csi.storage.k8s.io/serviceAccount.tokens": tokens]).serviceAccountTokens == ["api://AzureADTokenExchange": "eyJ.x.y"])
        expectError(["csi.storage.k8s.io/serviceAccount.tokens": "nope"], mentions: ["failed to parse workload identity tokens"])
    }
}
