import Foundation
import ManifestLint
import Testing

/// Output formats, inputs (JSON, directories) and the embedded CRDs.
@Suite struct ReportTests {
    @Test func jsonHasTheContractShape() throws {
        let report = ManifestLinter().lint([.init(name: "a.yaml", text: """
        apiVersion: secret-sync.x-k8s.io/v1alpha1
        kind: SecretSync
        metadata: {name: s}
        spec: {secretProviderClassName: kv, serviceAccountName: App_1, secretObject: {data: [{sourcePath: a, targetKey: a}]}}
        """)])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(report.json().utf8)) as? [String: Any])
        #expect(json["files"] as? Int == 1)
        #expect(json["errorCount"] as? Int == 1)
        #expect(json["warningCount"] as? Int == 1)
        let errors = try #require(json["errors"] as? [[String: Any]])
        #expect(errors.count == 2)
        #expect(errors[0]["file"] as? String == "a.yaml")
        #expect(errors[0]["line"] as? Int == 4)
        #expect(errors[0]["column"] as? Int == 33)
        #expect(errors[0]["field"] as? String == "spec.secretProviderClassName")
        #expect(errors[0]["severity"] as? String == "warning")
        #expect(errors[1]["field"] as? String == "spec.serviceAccountName")
        #expect(errors[1]["severity"] as? String == "error")
        #expect((errors[1]["message"] as? String)?.hasPrefix("'App_1' does not match the pattern") == true)
        #expect(!report.clean)
        #expect(report.text().hasSuffix("1 file, 1 document, 1 checked: 1 error, 1 warning"))
    }

    @Test func jsonManifestsGetPositionsToo() {
        let lines = lint("""
        {
          "apiVersion": "secrets-store.csi.x-k8s.io/v1",
          "kind": "SecretProviderClass",
          "metadata": {"name": "kv"},
          "spec": {"provider": "azure", "parameters": {"keyvaultName": "kv1", "tenantId": 7}}
        }
        """, name: "kv.json")
        #expect(lines == [
            "kv.json:5:33: spec.parameters.objects: is not set; list the secrets, keys and certificates to mount under 'array:'",
            "kv.json:5:83: spec.parameters.tenantId: must be a string, not an integer: quote it",
        ])
    }

    @Test func kubectlListsAreReadItemByItem() {
        let lines = lint("""
        apiVersion: v1
        kind: List
        items:
          - apiVersion: v1
            kind: Pod
            metadata: {name: p}
            spec:
              volumes: [{name: s, csi: {driver: secrets-store.csi.k8s.io, readOnly: true}}]
        """)
        #expect(lines == ["m.yaml:8:27: spec.volumes[0].csi.volumeAttributes.secretProviderClass: secretProviderClass is not set: add volumeAttributes.secretProviderClass: <name> to the pod's csi volume"])
    }

    @Test func directoriesAreWalkedAndTheExamplesAreClean() throws {
        let report = try ManifestLinter().lint(paths: [repositoryRoot.appendingPathComponent("examples").path])
        #expect(report.files == 3)
        #expect(report.checked == 2)
        #expect(report.diagnostics.isEmpty)
        let examples = repositoryRoot.appendingPathComponent("examples").path
        #expect(try ManifestLinter().lint(paths: [examples, examples + "/secretproviderclass.yaml"]).files == 3)
        #expect(throws: LintInputError.notFound("/nonexistent/x.yaml")) { try ManifestLinter().lint(paths: ["/nonexistent/x.yaml"]) }
    }

    @Test func theEmbeddedCRDsAreTheChartsCRDs() throws {
        let directory = repositoryRoot.appendingPathComponent("charts/akvs/crds")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(names.count == 4)
        for name in names {
            let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            #expect(ManifestLinter.embeddedCRD(name) == text, "run Scripts/generate-crd-schemas.sh: \(name) changed")
        }
    }
}
