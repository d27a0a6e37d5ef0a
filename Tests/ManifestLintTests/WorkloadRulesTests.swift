import ManifestLint
import Testing

/// Pod and workload `secrets-store.csi.k8s.io` volumes: the CSI driver's volume checks and the provider's
/// service-principal credential, across files.
@Suite struct WorkloadRulesTests {
    /// A service-principal class (no clientID): volumes need a nodePublishSecretRef with clientid and clientsecret.
    static let spc = """
    apiVersion: secrets-store.csi.x-k8s.io/v1
    kind: SecretProviderClass
    metadata: {name: sp, namespace: apps}
    spec:
      provider: azure
      parameters:
        keyvaultName: kv1
        tenantId: 00000000-0000-4000-8000-000000000002
        objects: |
          array:
            - |
              objectName: db
              objectType: secret
    ---
    apiVersion: v1
    kind: Secret
    metadata: {name: creds, namespace: apps}
    stringData:
      clientid: VALUE-NOT-TO-PRINT

    """

    @Test func volumeRulesOfTheDriverAndTheProvider() {
        let deployment = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: apps}
        spec:
          template:
            spec:
              volumes:
                - name: a
                  csi:
                    driver: secrets-store.csi.k8s.io
                    readOnly: true
                    volumeAttributes: {secretProviderClass: sp}
                - name: b
                  csi:
                    driver: secrets-store.csi.k8s.io
                    readOnly: true
                    volumeAttributes: {secretProviderClass: sp}
                    nodePublishSecretRef: {name: creds}
                - name: c
                  csi:
                    driver: secrets-store.csi.k8s.io
                    volumeAttributes: {usePodIdentity: true}
                - name: d
                  csi: {driver: other.csi.k8s.io}
        """
        let lines = lint([("spc.yaml", Self.spc), ("web.yaml", deployment)])
        #expect(lines == [
            "web.yaml:9:11: spec.template.spec.volumes[0].csi.nodePublishSecretRef: failed to get credentials, nodePublishSecretRef secret is not set; set clientID for workload identity, useVMManagedIdentity, or reference a Secret with clientid and clientsecret (SecretProviderClass apps/sp uses a service principal)",
            "web.yaml:18:42: spec.template.spec.volumes[1].csi.nodePublishSecretRef.name: could not find clientsecret in secrets; the nodePublishSecretRef Secret needs a clientsecret key (Secret apps/creds has keys: clientid)",
            "web.yaml:20:11: spec.template.spec.volumes[2].csi.readOnly: Readonly is not true in request; set readOnly: true on the pod's csi volume",
            "web.yaml:22:13: spec.template.spec.volumes[2].csi.volumeAttributes.secretProviderClass: secretProviderClass is not set: add volumeAttributes.secretProviderClass: <name> to the pod's csi volume",
            "web.yaml:22:48: spec.template.spec.volumes[2].csi.volumeAttributes.usePodIdentity: must be a string (volume attributes are strings): quote it",
        ])
        #expect(!lines.joined().contains("VALUE-NOT-TO-PRINT"))
    }

    @Test func aClassNotInTheFilesIsAWarningAndOtherNamespacesDoNotCount() {
        let cronJob = """
        apiVersion: batch/v1
        kind: CronJob
        metadata: {name: nightly, namespace: jobs}
        spec:
          schedule: "0 0 * * *"
          jobTemplate:
            spec:
              template:
                spec:
                  volumes:
                    - name: s
                      csi:
                        driver: secrets-store.csi.k8s.io
                        readOnly: true
                        volumeAttributes: {secretProviderClass: sp}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: bare}
        spec:
          volumes:
            - name: s
              csi: {driver: secrets-store.csi.k8s.io, readOnly: true, volumeAttributes: {secretProviderClass: missing}}
        """
        let report = ManifestLinter().lint([.init(name: "spc.yaml", text: Self.spc), .init(name: "jobs.yaml", text: cronJob)])
        #expect(report.diagnostics.map(\.text) == [
            "jobs.yaml:15:57: spec.jobTemplate.spec.template.spec.volumes[0].csi.volumeAttributes.secretProviderClass: warning: SecretProviderClass sp is defined in namespace apps of the given files, but a pod can only use a class of its own namespace (jobs); it must exist there in the cluster",
            "jobs.yaml:23:103: spec.volumes[0].csi.volumeAttributes.secretProviderClass: warning: SecretProviderClass missing is not defined in the given files; it must exist in the cluster in the pod's namespace",
        ])
        #expect(report.clean)
    }
}
