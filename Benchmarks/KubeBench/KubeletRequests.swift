import CSIAPI

/// NodePublishVolume as kubelet sends it for a read-only secrets-store volume of an ephemeral pod (podInfoOnMount,
/// service principal credentials from nodePublishSecretRef): the one request every benchmark that plays kubelet sends.
func kubeletPublishRequest(volumeID: String, target: String, pod: String, podUID: String, namespace: String, spc: String,
                           secrets: [String: String]) -> Csi_V1_NodePublishVolumeRequest {
    var r = Csi_V1_NodePublishVolumeRequest()
    r.volumeID = volumeID
    r.targetPath = target
    r.readonly = true
    var capability = Csi_V1_VolumeCapability()
    capability.mount = .init()
    r.volumeCapability = capability
    r.volumeContext = ["secretProviderClass": spc, "csi.storage.k8s.io/pod.name": pod, "csi.storage.k8s.io/pod.namespace": namespace,
                       "csi.storage.k8s.io/pod.uid": podUID, "csi.storage.k8s.io/serviceAccount.name": "default",
                       "csi.storage.k8s.io/ephemeral": "true"]
    r.secrets = secrets
    return r
}
