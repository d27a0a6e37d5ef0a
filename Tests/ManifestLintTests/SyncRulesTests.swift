import ManifestLint
import Testing

/// SecretSync and AKVSync: CRD schema, the sync controller's checks, and sourcePaths against the class.
@Suite struct SyncRulesTests {
    static let spc = """
    apiVersion: secrets-store.csi.x-k8s.io/v1
    kind: SecretProviderClass
    metadata: {name: kv, namespace: apps}
    spec:
      provider: azure
      parameters:
        keyvaultName: kv1
        tenantId: 00000000-0000-4000-8000-000000000002
        clientID: 00000000-0000-4000-8000-000000000001
        objects: |
          array:
            - |
              objectName: db
              objectType: secret
              objectAlias: db.txt
            - |
              objectName: cert
              objectType: secret
              objectVersionHistory: 2

    """

    @Test func sourcePathsMustBeFilesOfTheClassInTheFiles() {
        let sync = """
        apiVersion: secret-sync.x-k8s.io/v1alpha1
        kind: SecretSync
        metadata: {name: s, namespace: apps}
        spec:
          secretProviderClassName: kv
          serviceAccountName: app
          secretObject:
            data:
              - {sourcePath: db.txt, targetKey: a}
              - {sourcePath: cert/1, targetKey: b}
              - {sourcePath: cert/2, targetKey: c}
              - {sourcePath: db, targetKey: d}
        """
        #expect(lint([("spc.yaml", Self.spc), ("sync.yaml", sync)]) == [
            "sync.yaml:11:22: spec.secretObject.data[2].sourcePath: 'cert/2' is not a file of SecretProviderClass apps/kv (files: db.txt, cert/0, cert/1); use an objectAlias or objectName, or name/N with objectVersionHistory",
            "sync.yaml:12:22: spec.secretObject.data[3].sourcePath: 'db' is not a file of SecretProviderClass apps/kv (files: db.txt, cert/0, cert/1); use an objectAlias or objectName, or name/N with objectVersionHistory",
        ])
    }

    @Test func aClassThatNoFileDefinesIsAWarning() {
        let lines = lint("""
        apiVersion: secret-sync.x-k8s.io/v1alpha1
        kind: SecretSync
        metadata: {name: s, namespace: apps}
        spec:
          secretProviderClassName: elsewhere
          serviceAccountName: app
          secretObject:
            data: [{sourcePath: db, targetKey: a}]
        """)
        #expect(lines == ["m.yaml:5:28: spec.secretProviderClassName: warning: SecretProviderClass elsewhere is not defined in the given files; it must exist in the cluster in namespace apps"])
        #expect(ManifestLinter().lint([.init(name: "m.yaml", text: "kind: x")]).clean)
    }

    @Test func aMissingRequiredFieldIsReportedAtTheMapThatLacksIt() {
        let lines = lint("""
        apiVersion: secret-sync.x-k8s.io/v1alpha1
        kind: SecretSync
        metadata: {name: s, namespace: apps}
        spec:
          secretProviderClassName: kv
          secretObject:
            data: [{sourcePath: db.txt, targetKey: "a/b"}]
        """)
        #expect(lines == [
            "m.yaml:5:3: spec.serviceAccountName: is required (Service account whose token is handed to the provider (workload identity). The token audience is configured on the controller)",
            "m.yaml:7:44: spec.secretObject.data[0].targetKey: 'a/b' does not match the pattern ^[A-Za-z0-9.]([-A-Za-z0-9]+([-._a-zA-Z0-9]?[A-Za-z0-9])*)?(\\/([0-9]+))*$ (Key in the Secret's data)",
        ])
    }

    @Test func controllerRulesAreReportedTogether() {
        let lines = lint([("spc.yaml", Self.spc), ("m.yaml", """
        apiVersion: secret-sync.x-k8s.io/v1alpha1
        kind: SecretSync
        metadata: {name: s, namespace: apps}
        spec:
          secretProviderClassName: kv
          serviceAccountName: app
          secretObject:
            type: kubernetes.io/service-account-token
            labels:
              secrets-store.sync.x-k8s.io/x: "1"
            data:
              - {sourcePath: db.txt, targetKey: a}
              - {sourcePath: db.txt, targetKey: a}
        """)])
        #expect(lines == [
            "m.yaml:8:11: spec.secretObject.type: 'kubernetes.io/service-account-token' is not allowed: use Opaque or another non-token type",
            "m.yaml:10:38: spec.secretObject.labels.secrets-store.sync.x-k8s.io/x: key 'secrets-store.sync.x-k8s.io/x' is reserved for the controller: remove it",
            "m.yaml:13:41: spec.secretObject.data[1].targetKey: 'a' appears twice",
        ])
    }

    @Test func akvSyncExpansionAndProviderRules() {
        let lines = lint("""
        apiVersion: secret-sync.x-k8s.io/v1alpha1
        kind: AKVSync
        metadata: {name: akv, namespace: apps}
        spec:
          keyvaultName: kv1
          clientID: 00000000-0000-4000-8000-000000000001
          tenantID: 00000000-0000-4000-8000-000000000002
          serviceAccountName: app
          objects:
            - secretInAKV: a
              certInAKV: b
        ---
        apiVersion: secret-sync.x-k8s.io/v1alpha1
        kind: AKVSync
        metadata: {name: akv2, namespace: apps}
        spec:
          keyvaultName: kv1
          clientID: 00000000-0000-4000-8000-000000000001
          tenantID: 00000000-0000-4000-8000-000000000002
          serviceAccountName: app
          objects:
            - secretInAKV: c
              kubernetesSecretType: kubernetes.io/token
              versionHistory: "2"
        """)
        #expect(lines == [
            "m.yaml:10:7: spec.objects[0]: set exactly one of secretInAKV, certInAKV or mapping",
            "m.yaml:23:29: spec.objects[0].kubernetesSecretType: 'kubernetes.io/token' is not one of: Opaque, kubernetes.io/tls, kubernetes.io/ssh-auth, kubernetes.io/basic-auth, kubernetes.io/dockercfg, kubernetes.io/dockerconfigjson",
            "m.yaml:24:23: spec.objects[0].versionHistory: must be an integer, not a string: remove the quotes",
        ])
    }

    @Test func anAKVSyncMustNotGenerateOverObjectsOfTheFiles() {
        let akv = """
        apiVersion: secret-sync.x-k8s.io/v1alpha1
        kind: AKVSync
        metadata: {name: kv, namespace: apps}
        spec:
          keyvaultName: kv1
          clientID: 00000000-0000-4000-8000-000000000001
          tenantID: 00000000-0000-4000-8000-000000000002
          serviceAccountName: app
          objects:
            - secretInAKV: db
        """
        let sync = """
        apiVersion: secret-sync.x-k8s.io/v1alpha1
        kind: SecretSync
        metadata: {name: db, namespace: apps}
        spec:
          secretProviderClassName: kv
          serviceAccountName: app
          secretObject: {data: [{sourcePath: db.txt, targetKey: a}]}
        """
        #expect(lint([("akv.yaml", akv), ("spc.yaml", Self.spc), ("sync.yaml", sync)]) == [
            "akv.yaml:3:18: metadata.name: generates SecretProviderClass kv, which spc.yaml also defines; akvs never overwrites an object this AKVSync did not generate: rename or remove one of them",
            "akv.yaml:10:7: spec.objects[0]: generates SecretSync db, which sync.yaml also defines; akvs never overwrites an object this AKVSync did not generate: rename or remove one of them",
        ])
    }
}
