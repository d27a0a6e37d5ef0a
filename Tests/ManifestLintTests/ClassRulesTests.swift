import ManifestLint
import Testing

/// SecretProviderClass rules: the CRD schema, the driver's class checks and the Azure provider's parameters.
@Suite struct ClassRulesTests {
    static let header = """
    apiVersion: secrets-store.csi.x-k8s.io/v1
    kind: SecretProviderClass
    metadata:
      name: kv
      namespace: apps
    spec:
      provider: azure
      parameters:

    """

    @Test func aBooleanParameterIsABadCRDFieldType() {
        let lines = lint(Self.header + """
            keyvaultName: kv1
            tenantId: 00000000-0000-4000-8000-000000000002
            useVMManagedIdentity: true
            objects: |
              array:
                - |
                  objectName: db
                  objectType: secret
        """)
        #expect(lines == [#"m.yaml:11:27: spec.parameters.useVMManagedIdentity: must be a string, not a boolean: quote it, e.g. "true""#])
    }

    @Test func akvsSettingsAndOptionalObjectsAreChecked() {
        let good = lint("""
        apiVersion: secrets-store.csi.x-k8s.io/v1
        kind: SecretProviderClass
        metadata:
          name: kv
          namespace: apps
          annotations:
            akvs.io/serve-stale-on-outage: 24h
            akvs.io/refresh-requested-at: "2026-12-06T12:00:00Z"
        spec:
          provider: azure
          parameters:
            akvs.io/rotation-poll-interval: 10m
            akvs.io/retain-secret: "true"
            keyvaultName: kv1
            tenantId: 00000000-0000-4000-8000-000000000002
            objects: |
              array:
                - |
                  objectName: flags
                  objectType: secret
                  optional: true
        """)
        #expect(good == [])
        let bad = lint("""
        apiVersion: secrets-store.csi.x-k8s.io/v1
        kind: SecretProviderClass
        metadata:
          name: kv
          namespace: apps
          annotations:
            akvs.io/serve-stale-on-outage: one day
            akvs.io/serve-stale: 24h
        spec:
          provider: azure
          parameters:
            akvs.io/rotation-poll-interval: "0"
            akvs.io/retain-secret: "yes"
            keyvaultName: kv1
            tenantId: 00000000-0000-4000-8000-000000000002
            objects: |
              array:
                - |
                  objectName: flags
                  objectType: secret
                  optional: maybe
        """)
        #expect(bad == [
            "m.yaml:7:36: metadata.annotations.akvs.io/serve-stale-on-outage: 'one day' is not a duration; use e.g. 24h, or 0 to never serve stale content",
            "m.yaml:8:26: metadata.annotations.akvs.io/serve-stale: warning: is not an akvs setting and is ignored; did you mean akvs.io/serve-stale-on-outage? (known: akvs.io/serve-stale-on-outage, akvs.io/rotation-poll-interval, akvs.io/refresh-requested-at, akvs.io/retain-secret)",
            "m.yaml:12:37: spec.parameters.akvs.io/rotation-poll-interval: '0' is not a positive duration; use e.g. 10m or 1h",
            "m.yaml:13:28: spec.parameters.akvs.io/retain-secret: 'yes' must be true or false",
            "m.yaml:21:21: spec.parameters.objects.array[0].optional: 'maybe' must be true or false",
        ], "\(bad)")
    }

    @Test func anObjectsErrorIsReportedAtItsLineInsideTheBlockString() {
        let lines = lint(Self.header + """
            keyvaultName: kv1
            tenantId: 00000000-0000-4000-8000-000000000002
            objects: |
              array:
                - |
                  objectName: db
                  objectType: secret
                - |
                  objectName: cert
                  objectType: certificate
                  objectFormat: pfx
        """)
        #expect(lines == ["m.yaml:18:23: spec.parameters.objects.array[1].objectType: invalid objectType: 'certificate', should be secret, key or cert"])
    }

    @Test func objectRulesOfTheProviderApplyPerEntry() {
        let lines = lint(Self.header + """
            keyvaultName: kv1
            tenantId: 00000000-0000-4000-8000-000000000002
            objects: |
              array:
                - |
                  objectName: cert
                  objectType: cert
                  objectFormat: pfx
                - |
                  objectName: db
                  objectType: secret
                  objectEncoding: base32
                - |
                  objectName: key
                  objectType: secret
                  filePermission: 0999
                - |
                  objectName: x
                  objectType: secret
                  objectalias: y
        """)
        #expect(lines == [
            "m.yaml:16:25: spec.parameters.objects.array[0].objectFormat: PFX format only supported for objectType: secret; read the certificate as objectType: secret to get the PFX",
            "m.yaml:20:27: spec.parameters.objects.array[1].objectEncoding: invalid objectEncoding: base32, should be hex, base64 or utf-8",
            #"m.yaml:24:27: spec.parameters.objects.array[2].filePermission: '0999' must be an octal mode such as "0600" or "0644" (quote it in YAML)"#,
            "m.yaml:28:24: spec.parameters.objects.array[3].objectalias: unknown field; did you mean objectAlias?",
        ])
    }

    @Test func twoObjectsWritingOneFileAreReportedAtTheSecond() {
        let lines = lint(Self.header + """
            keyvaultName: kv1
            tenantId: 00000000-0000-4000-8000-000000000002
            objects: |
              array:
                - |
                  objectName: db
                  objectType: secret
                - |
                  objectName: other
                  objectType: secret
                  objectAlias: db
        """)
        #expect(lines == ["m.yaml:19:24: spec.parameters.objects.array[1].objectAlias: writes to 'db', which objects[0] (db) already writes; give one of them a distinct objectAlias"])
    }

    @Test func invalidYAMLInsideAnObjectsEntry() {
        let lines = lint(Self.header + """
            keyvaultName: kv1
            tenantId: 00000000-0000-4000-8000-000000000002
            objects: |
              array:
                - |
                  objectName: db
                  objectType: : secret
        """)
        #expect(lines == ["m.yaml:15:23: spec.parameters.objects.array[0]: is not valid YAML: mapping values are not allowed in this context; write one 'field: value' per line"])
    }

    @Test func aQuotedObjectsStringPinsItsErrorsToTheString() {
        let lines = lint(Self.header + #"""
            keyvaultName: kv1
            tenantId: 00000000-0000-4000-8000-000000000002
            objects: "array:\n  - |\n    objectName: a\n    objectType: sekret\n"
        """#)
        #expect(lines == ["m.yaml:11:14: spec.parameters.objects.array[0].objectType: invalid objectType: 'sekret', should be secret, key or cert"])
    }

    @Test func parameterRulesOfTheProvider() {
        let lines = lint(Self.header + """
            keyvaultName: "a_b"
            tenantId: ""
            usePodIdentity: "true"
            cloudName: AzureMarsCloud
        """)
        #expect(lines == [
            "m.yaml:8:3: spec.parameters.objects: is not set; list the secrets, keys and certificates to mount under 'array:'",
            "m.yaml:9:19: spec.parameters.keyvaultName: 'a_b' is not a vault name: 3-24 letters, digits and '-', starting with a letter",
            "m.yaml:10:15: spec.parameters.tenantId: is not set; set it to the directory (tenant) ID of the vault",
            "m.yaml:11:21: spec.parameters.usePodIdentity: aad-pod-identity is deprecated and not supported by akvs; use workload identity (clientID plus a federated service account) or useVMManagedIdentity",
            "m.yaml:12:16: spec.parameters.cloudName: 'AzureMarsCloud' is not a known Azure cloud; use AzurePublicCloud, AzureUSGovernmentCloud, AzureChinaCloud or AzureStackCloud (with cloudEnvFileName)",
        ])
    }

    @Test func secretObjectsMustNameMountedFiles() {
        let lines = lint("""
        apiVersion: secrets-store.csi.x-k8s.io/v1
        kind: SecretProviderClass
        metadata: {name: kv, namespace: apps}
        spec:
          provider: azure
          secretObjects:
            - secretName: db
              type: Opaque
              data:
                - {objectName: db, key: password}
                - {objectName: cert/2, key: old}
            - secretName: tls
              type: kubernetes.io/tls
              data: [{objectName: cert/0, key: tls.crt}]
          parameters:
            keyvaultName: kv1
            tenantId: 00000000-0000-4000-8000-000000000002
            objects: |
              array:
                - |
                  objectName: db
                  objectType: secret
                - |
                  objectName: cert
                  objectType: secret
                  objectVersionHistory: 2
        """)
        #expect(lines == [
            "m.yaml:11:24: spec.secretObjects[0].data[1].objectName: file matching objectName cert/2 not found in the pod (spec.secretObjects[0].data[1].objectName must be an object's alias or name, or name/N with objectVersionHistory)",
            "m.yaml:14:7: spec.secretObjects[1].data: has type kubernetes.io/tls and needs data keys tls.key and tls.crt",
        ])
    }

    @Test func theDriverNeedsAProviderAndTheSchemaKnowsTheFields() {
        let lines = lint("""
        apiVersion: secrets-store.csi.x-k8s.io/v1
        kind: SecretProviderClass
        metadata:
          name: kv
        spec:
          provder: azure
        """)
        #expect(lines == [
            "m.yaml:5:1: spec.provider: is empty; set it to the provider's name, e.g. azure",
            "m.yaml:6:3: spec.provder: unknown field: the API server drops it and kubectl rejects it; did you mean provider?",
        ])
    }

    @Test func versionsAndNamesAsTheCRDServesThem() {
        let lines = lint("""
        apiVersion: secrets-store.csi.x-k8s.io/v1alpha1
        kind: SecretProviderClass
        metadata: {name: old}
        spec: {provider: other, parameters: {a: b}}
        ---
        apiVersion: secrets-store.csi.x-k8s.io/v2
        kind: SecretProviderClass
        metadata: {name: new}
        ---
        apiVersion: secrets-store.csi.x-k8s.io/v1
        kind: SecretProviderClass
        metadata: {namespace: apps}
        spec: {provider: other, parameters: {a: b}}
        """)
        #expect(lines == [
            "m.yaml:1:13: apiVersion: warning: secrets-store.csi.x-k8s.io/v1alpha1 is deprecated. Use secrets-store.csi.x-k8s.io/v1 instead.",
            "m.yaml:6:13: apiVersion: secrets-store.csi.x-k8s.io/v2 is not served; use secrets-store.csi.x-k8s.io/v1",
            "m.yaml:12:1: metadata.name: is required: name the SecretProviderClass",
        ])
    }

    @Test func aYAMLSyntaxErrorIsReportedWhereTheParserStopped() {
        let lines = lint("""
        apiVersion: v1
        kind: Pod
        metadata: {name: p
        """)
        #expect(lines.count == 1)
        #expect(lines.first?.hasPrefix("m.yaml:4:1: (yaml): ") == true)
    }
}
