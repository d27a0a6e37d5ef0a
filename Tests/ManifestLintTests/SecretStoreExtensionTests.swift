import ManifestLint
import Testing

/// `--for sync`: what Azure's Secret Store extension refuses.
@Suite struct SecretStoreExtensionTests {
    @Test func legacyIdentityOtherCloudsAndWindowsAreRefused() {
        let text = """
        apiVersion: secrets-store.csi.x-k8s.io/v1
        kind: SecretProviderClass
        metadata: {name: gov, namespace: apps}
        spec:
          provider: azure
          secretObjects:
            - {secretName: s, type: Opaque, data: [{objectName: db, key: k}]}
          parameters:
            keyvaultName: kv1
            tenantId: 00000000-0000-4000-8000-000000000002
            useVMManagedIdentity: "true"
            cloudName: AzureUSGovernmentCloud
            objects: |
              array:
                - |
                  objectName: db
                  objectType: secret
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: win, namespace: apps}
        spec:
          nodeSelector:
            kubernetes.io/os: windows
          volumes:
            - name: s
              csi: {driver: secrets-store.csi.k8s.io, readOnly: true, volumeAttributes: {secretProviderClass: gov}}
        """
        #expect(lint(text).isEmpty)
        #expect(lint(text, forSync: true) == [
            "m.yaml:6:3: spec.secretObjects: warning: the Secret Store extension does not read secretObjects: write a SecretSync per Secret (akvs migrate translate does)",
            "m.yaml:8:3: spec.parameters.clientID: is not set: the Secret Store extension syncs with workload identity only; set clientID to the client ID of a managed identity federated with the SecretSync's service account",
            "m.yaml:11:27: spec.parameters.useVMManagedIdentity: the Secret Store extension supports workload identity only: remove useVMManagedIdentity and set clientID to a managed identity federated with the SecretSync's service account",
            "m.yaml:12:16: spec.parameters.cloudName: AzureUSGovernmentCloud is not supported by the Secret Store extension (public cloud only); keep this class on the CSI driver",
            "m.yaml:24:23: spec.nodeSelector.kubernetes.io/os: Windows workloads are not supported by the Secret Store extension (Linux nodes only); keep this workload on the CSI driver",
            "m.yaml:27:7: spec.volumes[0].csi: warning: the Secret Store extension does not mount CSI volumes: mount the Secret a SecretSync writes instead (akvs migrate workloads rewrites this volume)",
        ])
    }
}
