import Foundation
import ManifestLint
import Testing

/// `akvs validate --tenant-policy`: the chart's tenant policy rules, offline, with its messages.
@Suite struct TenantPolicyTests {
    static let values = """
    policy:
      enabled: true
      allowedVaults: [prod-vault, Shared-Vault]
      allowedCloudEnvDirs: [/etc/kubernetes, /opt/azurestack/]
    """

    static func findings(_ manifest: String, values: String = values) throws -> [String] {
        let policy = try TenantPolicy(valuesYAML: values, source: "values.yaml")
        return ManifestLinter(tenantPolicy: policy).lint([.init(name: "m.yaml", text: manifest)]).diagnostics.map(\.text).filter { $0.contains("tenant policy") }
    }

    static func spc(_ parameters: String) -> String {
        """
        apiVersion: secrets-store.csi.x-k8s.io/v1
        kind: SecretProviderClass
        metadata: {name: app, namespace: team-a}
        spec:
          provider: azure
          parameters:
            tenantId: tenant
            objects: |
              array:
                - |
                  objectName: db
                  objectType: secret
        \(parameters)
        """
    }

    @Test func refusedParametersAreNamedWithTheAlternative() throws {
        let lines = try Self.findings(Self.spc("""
            keyvaultName: Other
            useVMManagedIdentity: " tRuE "
            cloudEnvFileName: /etc/kubernetes/../shadow
        """))
        #expect(lines.contains { $0.contains("spec.parameters.keyvaultName: tenant policy: spec.parameters.keyvaultName 'Other' is not allowed in this namespace; allowed vaults: prod-vault, shared-vault") }, "\(lines)")
        #expect(lines.contains { $0.contains("spec.parameters.useVMManagedIdentity 'tRuE' is not allowed") || $0.contains("spec.parameters.useVMManagedIdentity ' tRuE ' is not allowed") }, "\(lines)")
        #expect(lines.contains { $0.contains("cloudEnvFileName '/etc/kubernetes/../shadow' is not allowed in this namespace; allowed folders: /etc/kubernetes/, /opt/azurestack/") }, "\(lines)")
    }

    @Test func allowedParametersPass() throws {
        #expect(try Self.findings(Self.spc("""
            keyvaultName: " SHARED-VAULT "
            useVMManagedIdentity: "False"
            cloudEnvFileName: /opt/azurestack/stack.json
        """)).isEmpty)
    }

    @Test func lookAlikeFoldersAndRelativePathsAreRefused() throws {
        for path in ["/etc/kubernetes-evil/x.json", "etc/kubernetes/x.json", "/opt/azurestack/../../etc/passwd"] {
            #expect(try Self.findings(Self.spc("    cloudEnvFileName: \(path)")).count == 1, "\(path)")
        }
    }

    @Test func podTemplatesCannotNameASecretOrOverrideTheClass() throws {
        let lines = try Self.findings("""
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: team-a}
        spec:
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers: [{name: app, image: app:1}]
              volumes:
                - name: secrets
                  csi:
                    driver: secrets-store.csi.k8s.io
                    nodePublishSecretRef: {name: sp-creds}
                    volumeAttributes: {secretProviderClass: app, keyvaultName: elsewhere}
        """)
        #expect(lines.contains { $0.contains("spec.template.spec.volumes (volume 'secrets'): csi.nodePublishSecretRef is not allowed in this namespace; no service-principal secret may be kept in the cluster") }, "\(lines)")
        #expect(lines.contains { $0.contains("spec.template.spec.volumes (volume 'secrets'): csi.volumeAttributes.keyvaultName 'elsewhere' is not allowed in this namespace") }, "\(lines)")
    }

    @Test func rulesCanBeSwitchedOffAndNoFoldersMeansNoFile() throws {
        let values = "policy:\n  forbidNodeIdentities: false\n"
        #expect(try Self.findings(Self.spc("    useVMManagedIdentity: \"true\""), values: values).isEmpty)
        let lines = try Self.findings(Self.spc("    cloudEnvFileName: /etc/kubernetes/x.json"), values: values)
        #expect(lines.count == 1 && lines[0].contains("policy.allowedCloudEnvDirs is empty"), "\(lines)")
    }

    @Test func aValuesFileWithoutPolicyIsAnInputError() {
        #expect(throws: LintInputError.policy("values.yaml: has no policy: section (the chart's tenant policy values)")) {
            try TenantPolicy(valuesYAML: "image: {tag: x}\n", source: "values.yaml")
        }
    }
}
