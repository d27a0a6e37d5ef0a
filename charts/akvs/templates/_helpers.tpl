{{/*
Names. fullname: fullnameOverride, else the release name (plus "-<chart name>" unless the release name
already contains it), at most 33 characters so that "<fullname>-secrets-store-sync-controller" stays a
63-character name.
*/}}
{{- define "akvs.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 33 | trimSuffix "-" -}}
{{- end -}}

{{- define "akvs.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 33 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 33 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 33 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "akvs.driverName" -}}{{ include "akvs.fullname" . }}-secrets-store-csi-driver{{- end -}}
{{- define "akvs.providerName" -}}{{ include "akvs.fullname" . }}-secrets-store-provider-azure{{- end -}}
{{- define "akvs.syncName" -}}{{ include "akvs.fullname" . }}-secrets-store-sync-controller{{- end -}}

{{- define "akvs.restarterName" -}}{{ include "akvs.fullname" . }}-restarter{{- end -}}

{{/* The Secret in which `akvs sync-controller` keeps its change-detection key (its own namespace). */}}
{{- define "akvs.hashKeySecret" -}}akvs-sync-controller-hash-key{{- end -}}

{{/* Labels on every object. */}}
{{- define "akvs.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "akvs.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: akvs
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
Per-role labels and selectors. The `app` values are the AKS add-on's, so its documented
`kubectl get pods -l 'app in (secrets-store-csi-driver,secrets-store-provider-azure)'` works.
*/}}
{{- define "akvs.driverSelector" -}}
app: secrets-store-csi-driver
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- define "akvs.providerSelector" -}}
app: secrets-store-provider-azure
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- define "akvs.syncSelector" -}}
app: secrets-store-sync-controller
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "akvs.driverLabels" -}}
{{ include "akvs.labels" . }}
app: secrets-store-csi-driver
app.kubernetes.io/component: csi-driver
{{- end -}}
{{- define "akvs.providerLabels" -}}
{{ include "akvs.labels" . }}
app: secrets-store-provider-azure
app.kubernetes.io/component: provider
{{- end -}}
{{- define "akvs.restarterSelector" -}}
app: akvs-restarter
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "akvs.restarterLabels" -}}
{{ include "akvs.labels" . }}
app: akvs-restarter
app.kubernetes.io/component: restarter
{{- end -}}

{{- define "akvs.syncLabels" -}}
{{ include "akvs.labels" . }}
app: secrets-store-sync-controller
app.kubernetes.io/component: sync-controller
control-plane: controller-manager
secrets-store.io/system: "true"
{{- end -}}

{{/* The akvs image: repository@digest, or repository:tag (tag defaults to the chart's appVersion). */}}
{{- define "akvs.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (toString (default .Chart.AppVersion .Values.image.tag)) -}}
{{- end -}}
{{- end -}}

{{/*
Log flags of every akvs container: logVerbosity (klog levels of the upstream charts) -> --log-level,
logFormatJSON -> --log-format-json=true.
*/}}
{{- define "akvs.logLevel" -}}
{{- $v := int .Values.logVerbosity -}}
{{- if ge $v 6 }}trace{{ else if ge $v 4 }}debug{{ else }}info{{ end -}}
{{- end -}}
{{- define "akvs.logArgs" -}}
- --log-level={{ include "akvs.logLevel" . }}
{{- if .Values.logFormatJSON }}
- --log-format-json=true
{{- end }}
{{- end -}}

{{/* Driver settings that fall back to the top-level linux.* ones. */}}
{{- define "akvs.kubeletRootDir" -}}
{{- $d := index .Values "secrets-store-csi-driver" -}}
{{- $dir := default .Values.linux.kubeletRootDir $d.linux.kubeletRootDir | default "/var/lib/kubelet" -}}
{{- trimSuffix "/" $dir -}}
{{- end -}}
{{- define "akvs.driverProvidersDir" -}}
{{- $d := index .Values "secrets-store-csi-driver" -}}
{{- default .Values.linux.providersDir $d.linux.providersDir | default "/var/run/secrets-store-csi-providers" -}}
{{- end -}}

{{/* A sidecar image: each field from secrets-store-csi-driver.linux.<key>, else linux.<key>. Arg: list root key. */}}
{{- define "akvs.sidecarImage" -}}
{{- $root := index . 0 -}}
{{- $key := index . 1 -}}
{{- $own := index (index $root.Values "secrets-store-csi-driver").linux $key | default dict -}}
{{- $base := index $root.Values.linux $key | default dict -}}
{{- $repo := default $base.repository $own.repository -}}
{{- $tag := toString (default $base.tag $own.tag) -}}
{{- $digest := default $base.digest $own.digest -}}
image: {{ if $digest }}{{ printf "%s@%s" $repo $digest | quote }}{{ else }}{{ printf "%s:%s" $repo $tag | quote }}{{ end }}
imagePullPolicy: {{ default $base.pullPolicy $own.pullPolicy | default "IfNotPresent" }}
{{- end -}}

{{/* The port of a listen address (":8095", "0.0.0.0:8095", "8095"). */}}
{{- define "akvs.port" -}}
{{- regexReplaceAll "^.*:" (toString .) "" -}}
{{- end -}}

{{/* CSIDriver tokenRequests: api://AzureADTokenExchange first, then the configured ones, without repeats. */}}
{{- define "akvs.tokenRequests" -}}
{{- $d := index .Values "secrets-store-csi-driver" -}}
{{- $seen := dict -}}
{{- $out := list -}}
{{- $wanted := prepend ($d.tokenRequests | default list) (dict "audience" "api://AzureADTokenExchange") -}}
{{- range $wanted -}}
{{- if not (hasKey $seen .audience) -}}
{{- $_ := set $seen .audience true -}}
{{- $entry := dict "audience" .audience -}}
{{- if .expirationSeconds }}{{ $_ := set $entry "expirationSeconds" (int64 .expirationSeconds) }}{{ end -}}
{{- $out = append $out $entry -}}
{{- end -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/*
ValidatingAdmissionPolicy support: admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy is served
from Kubernetes 1.30. A live cluster lists the kind; `helm template` knows only group versions, so the
Kubernetes version decides there.
*/}}
{{- define "akvs.vapSupported" -}}
{{- if .Capabilities.APIVersions.Has "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy" -}}
true
{{- else if and (.Capabilities.APIVersions.Has "admissionregistration.k8s.io/v1") (semverCompare ">=1.30.0-0" .Capabilities.KubeVersion.Version) -}}
true
{{- end -}}
{{- end -}}

{{/* CEL: the request comes from the sync controller's ServiceAccount. */}}
{{- define "akvs.vapIsController" -}}
{{- printf "request.userInfo.username == 'system:serviceaccount:%s:%s'" .Release.Namespace (include "akvs.syncName" .) -}}
{{- end -}}

{{/* CEL: `object.type in [...]` for a list of Secret types; an empty list is false. Arg: list. */}}
{{- define "akvs.vapTypeIn" -}}
{{- if . -}}
{{- $quoted := list -}}
{{- range . }}{{ $quoted = append $quoted (printf "'%s'" .) }}{{ end -}}
object.type in [{{ join ", " $quoted }}]
{{- else -}}
false
{{- end -}}
{{- end -}}

{{/* Booleans that may arrive as strings ("true"/"false") from extension configuration settings. */}}
{{- define "akvs.bool" -}}
{{- if eq (toString .) "true" }}true{{ else }}false{{ end -}}
{{- end -}}

{{/* Which parts are installed ("true" or ""). */}}
{{- define "akvs.driverOn" -}}
{{- $d := index .Values "secrets-store-csi-driver" -}}
{{- if and .Values.csiDriver.enabled $d.install $d.linux.enabled }}true{{ end -}}
{{- end -}}
{{- define "akvs.providerOn" -}}
{{- if and .Values.csiDriver.enabled .Values.linux.enabled (ne (index .Values "secrets-store-csi-driver").azureProvider.mode "in-process") }}true{{ end -}}
{{- end -}}
{{- define "akvs.syncOn" -}}
{{- if .Values.syncController.enabled }}true{{ end -}}
{{- end -}}

{{/*
The Kubernetes API credentials of a role that calls the API (driver, sync controller), mounted into the
akvs container only: the pod sets automountServiceAccountToken false, so sidecars (node-driver-registrar,
livenessprobe, provider containers) get no token. The same three files the automatic mount gives (a bound
token kubelet refreshes, the cluster CA, the namespace), at the same path, which `akvs` reads in-cluster.
*/}}
{{- define "akvs.apiAccessVolume" -}}
- name: kube-api-access
  projected:
    defaultMode: 420
    sources:
      - serviceAccountToken:
          path: token
          expirationSeconds: 3607
      - configMap:
          name: kube-root-ca.crt
          items:
            - key: ca.crt
              path: ca.crt
      - downwardAPI:
          items:
            - path: namespace
              fieldRef:
                apiVersion: v1
                fieldPath: metadata.namespace
{{- end -}}
{{- define "akvs.apiAccessMount" -}}
- name: kube-api-access
  mountPath: /var/run/secrets/kubernetes.io/serviceaccount
  readOnly: true
{{- end -}}

{{/* The tenant policy's matchConstraints. Arg: dict selector rules. */}}
{{- define "akvs.tenantMatch" -}}
namespaceSelector:
  {{- toYaml (.selector | default dict) | nindent 2 }}
resourceRules:
  {{- range .rules }}
  - apiGroups: [{{ .group | quote }}]
    apiVersions: ["*"]
    operations: [{{ range $i, $op := .operations }}{{ if $i }}, {{ end }}{{ $op | quote }}{{ end }}]
    resources: [{{ range $i, $r := .resources }}{{ if $i }}, {{ end }}{{ $r | quote }}{{ end }}]
  {{- end }}
{{- end }}
{{/* A tenant policy's binding. Arg: dict name labels. */}}
{{- define "akvs.tenantBinding" -}}
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: {{ .name }}-binding
  labels:
    {{- .labels | nindent 4 }}
spec:
  policyName: {{ .name }}
  validationActions: [Deny]
{{- end }}

{{/*
The roles whose /metrics this release serves, one YAML list entry each: job (the pods' and Services' `app` label,
which the ServiceMonitors and PodMonitors take as Prometheus's job label), name (the workload), service (the
Service in front of its metrics port), ownService (the chart adds that Service only for monitoring), port, and the
names of its selector and labels helpers. Read it with fromYamlArray.
*/}}
{{- define "akvs.metricsRoles" -}}
{{- $d := index .Values "secrets-store-csi-driver" -}}
{{- if include "akvs.driverOn" . }}
- job: secrets-store-csi-driver
  name: {{ include "akvs.driverName" . }}
  service: {{ include "akvs.fullname" . }}-csi-driver-metrics
  ownService: true
  port: {{ include "akvs.port" $d.linux.metricsAddr }}
  selector: akvs.driverSelector
  labels: akvs.driverLabels
{{- end }}
{{- if include "akvs.providerOn" . }}
- job: secrets-store-provider-azure
  name: {{ include "akvs.providerName" . }}
  service: {{ include "akvs.fullname" . }}-provider-metrics
  ownService: true
  port: {{ include "akvs.port" .Values.metricsAddr }}
  selector: akvs.providerSelector
  labels: akvs.providerLabels
{{- end }}
{{- if include "akvs.syncOn" . }}
- job: secrets-store-sync-controller
  name: {{ include "akvs.syncName" . }}
  service: {{ include "akvs.fullname" . }}-sync-controller-metrics
  ownService: false
  port: {{ int .Values.syncController.metricsPort }}
  selector: akvs.syncSelector
  labels: akvs.syncLabels
{{- end }}
{{- end -}}

{{/*
PromQL: how much a counter grew within a window, counting a series born within the window from zero. increase()
needs two samples, so it misses the first events of a series that is born with them (a first stale mount, a first
403). Such a series counts with its whole value when it did not exist a window ago while its target did (`up`), or
its process started within the window (a new pod: its counters began at zero); a counter that only looks new because
Prometheus (or its scraping of an old pod) is new is left to increase(). Arg: dict series window.
*/}}
{{- define "akvs.increaseCountingNew" -}}
(
  ({{ .series }} unless {{ .series }} offset {{ .window }})
    and on (job, instance) (up offset {{ .window }} or process_start_time_seconds > time() - {{ include "akvs.durationSeconds" .window }})
)
or increase({{ .series }}[{{ .window }}])
{{- end -}}

{{/* A Prometheus duration (1h30m, 15m, 90s) in seconds, for arithmetic in PromQL. Arg: the duration. */}}
{{- define "akvs.durationSeconds" -}}
{{- $units := dict "y" 31536000 "w" 604800 "d" 86400 "h" 3600 "m" 60 "s" 1 -}}
{{- $total := 0.0 -}}
{{- range regexFindAll "[0-9]+(ms|[ywdhms])" (toString .) -1 -}}
{{- if hasSuffix "ms" . -}}
{{- $total = addf $total (divf (trimSuffix "ms" . | float64) 1000) -}}
{{- else -}}
{{- $unit := regexFind "[ywdhms]$" . -}}
{{- $total = addf $total (mulf (trimSuffix $unit . | float64) (index $units $unit)) -}}
{{- end -}}
{{- end -}}
{{- $total -}}
{{- end -}}
