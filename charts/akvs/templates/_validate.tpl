{{/*
Settings check. values.schema.json checks types, enums and patterns before anything renders; it lets
unknown keys through so that this check can name them with the nearest valid key: Helm's schema errors
cannot suggest anything.

akvs.knownKeys is the tree of every valid key. A map is walked (its keys are checked); a leaf ("")
is a value or a free-form map/list (nodeSelector, resources, env, volumes, ...) that is not walked.
Interop/chart checks that this tree, values.yaml and values.schema.json name the same keys.
*/}}
{{- define "akvs.knownKeys" -}}
nameOverride: ""
fullnameOverride: ""
commonLabels: ""
image:
  repository: ""
  tag: ""
  digest: ""
  pullPolicy: ""
imagePullSecrets: ""
logVerbosity: ""
logFormatJSON: ""
rbac:
  install: ""
networkPolicy:
  enabled: ""
  egressTCPPorts: ""
  metricsFrom: ""
  extraEgress: ""
policy:
  enabled: ""
  namespaceSelector: ""
  forbidNodePublishSecretRef: ""
  forbidNodeIdentities: ""
  allowedVaults: ""
  allowedCloudEnvDirs: ""
metrics:
  serviceMonitor:
    enabled: ""
    namespace: ""
    labels: ""
    interval: ""
    scrapeTimeout: ""
  podMonitor:
    enabled: ""
    namespace: ""
    labels: ""
    interval: ""
    scrapeTimeout: ""
  prometheusRule:
    enabled: ""
    namespace: ""
    labels: ""
    alertLabels: ""
    expiryWarningDays: ""
    expiryCriticalDays: ""
    syncFailingFor: ""
    mountStaleWindow: ""
    throttlingFor: ""
    identityErrorWindow: ""
    roleDownFor: ""
  grafanaDashboard:
    enabled: ""
    namespace: ""
    label: ""
    labelValue: ""
    annotations: ""
csiDriver:
  enabled: ""
constructPEMChain: ""
writeCertAndKeyInSeparateFiles: ""
metricsAddr: ""
linux:
  enabled: ""
  kubeletRootDir: ""
  providersDir: ""
  healthzPort: ""
  healthzPath: ""
  healthzTimeout: ""
  privileged: ""
  hostNetwork: ""
  dnsPolicy: ""
  nodeSelector: ""
  tolerations: ""
  affinity: ""
  priorityClassName: ""
  resources: ""
  podAnnotations: ""
  podLabels: ""
  daemonsetAnnotations: ""
  updateStrategy: ""
  volumes: ""
  volumeMounts: ""
  env: ""
  extraArgs: ""
  registrarImage:
    repository: ""
    tag: ""
    digest: ""
    pullPolicy: ""
  livenessProbeImage:
    repository: ""
    tag: ""
    digest: ""
    pullPolicy: ""
windows:
  enabled: ""
secrets-store-csi-driver:
  install: ""
  enableSecretRotation: ""
  rotationPollInterval: ""
  syncSecret:
    enabled: ""
  tokenRequests: ""
  maxCallRecvMsgSize: ""
  filteredWatchSecret: ""
  akvs:
    republish: ""
    serveStaleOnOutage: ""
    staleStore:
      hostPath: ""
      maxBytes: ""
    watchPods: ""
  registration:
    mode: ""
  azureProvider:
    mode: ""
  livenessProbe:
    port: ""
    logLevel: ""
  linux:
    enabled: ""
    kubeletRootDir: ""
    providersDir: ""
    additionalProvidersDirs: ""
    metricsAddr: ""
    hostNetwork: ""
    nodeSelector: ""
    tolerations: ""
    affinity: ""
    priorityClassName: ""
    resources: ""
    podAnnotations: ""
    podLabels: ""
    daemonsetAnnotations: ""
    updateStrategy: ""
    volumes: ""
    volumeMounts: ""
    env: ""
    extraArgs: ""
    registrarImage:
      repository: ""
      tag: ""
      digest: ""
      pullPolicy: ""
    registrar:
      logVerbosity: ""
      resources: ""
    livenessProbeImage:
      repository: ""
      tag: ""
      digest: ""
      pullPolicy: ""
    livenessProbe:
      resources: ""
  windows:
    enabled: ""
restarter:
  enabled: ""
  replicas: ""
  debounce: ""
  maxConcurrentRestarts: ""
  metricsPort: ""
  healthPort: ""
  nodeSelector: ""
  tolerations: ""
  affinity: ""
  priorityClassName: ""
  resources: ""
  podAnnotations: ""
  podLabels: ""
  podSecurityContext: ""
  securityContext: ""
  extraArgs: ""
rotationPollIntervalInSeconds: ""
jitterSeconds: ""
enablePartialSecretSync: ""
syncController:
  enabled: ""
  replicas: ""
  tokenRequestAudience: ""
  enableDriftRepair: ""
  metricsPort: ""
  healthPort: ""
  providersDir: ""
  providerContainers: ""
  hostNetwork: ""
  nodeSelector: ""
  tolerations: ""
  affinity: ""
  priorityClassName: ""
  resources: ""
  podAnnotations: ""
  podLabels: ""
  deploymentAnnotations: ""
  podSecurityContext: ""
  securityContext: ""
  volumes: ""
  volumeMounts: ""
  env: ""
  extraArgs: ""
  metricsService:
    enabled: ""
    annotations: ""
  validatingAdmissionPolicies:
    applyPolicies: ""
    allowedSecretTypes: ""
    deniedSecretTypes: ""
{{- end -}}

{{/* Every dotted path of a known-key tree, one per line. Arg: dict tree prefix. */}}
{{- define "akvs.knownPaths" -}}
{{- $prefix := .prefix -}}
{{- range $key, $sub := .tree }}
{{- $path := ternary $key (printf "%s.%s" $prefix $key) (eq $prefix "") }}
{{ $path }}
{{- if kindIs "map" $sub }}
{{- include "akvs.knownPaths" (dict "tree" $sub "prefix" $path) }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The unknown paths among the given values, one per line. Arg: dict values tree prefix. */}}
{{- define "akvs.unknownPaths" -}}
{{- $prefix := .prefix -}}
{{- $tree := .tree -}}
{{- range $key, $value := .values }}
{{- $path := ternary $key (printf "%s.%s" $prefix $key) (eq $prefix "") }}
{{- if not (hasKey $tree $key) }}
{{ $path }}
{{- else if and (kindIs "map" (index $tree $key)) (kindIs "map" $value) }}
{{- include "akvs.unknownPaths" (dict "values" $value "tree" (index $tree $key) "prefix" $path) }}
{{- end }}
{{- end }}
{{- end -}}

{{/*
How alike two names are, case-insensitively: common prefix + common suffix (at most the shorter length),
times 4, plus 1 when they have the same parent (which so only breaks ties). Arg: dict a b sameParent.
*/}}
{{- define "akvs.likeness" -}}
{{- $a := lower .a -}}
{{- $b := lower .b -}}
{{- $la := len $a -}}
{{- $lb := len $b -}}
{{- $n := min $la $lb | int -}}
{{- $prefix := 0 -}}
{{- $same := true -}}
{{- range $i := until $n -}}
{{- if and $same (eq (substr $i (add1 $i | int) $a) (substr $i (add1 $i | int) $b)) -}}
{{- $prefix = add1 $prefix -}}
{{- else -}}
{{- $same = false -}}
{{- end -}}
{{- end -}}
{{- $suffix := 0 -}}
{{- $same = true -}}
{{- range $i := until $n -}}
{{- $ca := substr (sub $la (add1 $i) | int) (sub $la $i | int) $a -}}
{{- $cb := substr (sub $lb (add1 $i) | int) (sub $lb $i | int) $b -}}
{{- if and $same (eq $ca $cb) -}}
{{- $suffix = add1 $suffix -}}
{{- else -}}
{{- $same = false -}}
{{- end -}}
{{- end -}}
{{- $score := min (add $prefix $suffix) $n -}}
{{- $score = mul $score 4 -}}
{{- if .sameParent }}{{ $score = add1 $score }}{{ end -}}
{{- $score -}}
{{- end -}}

{{/* The known path most like an unknown one, or "" when none is close. Arg: dict path known. */}}
{{- define "akvs.nearestKey" -}}
{{- $parts := splitList "." .path -}}
{{- $name := last $parts -}}
{{- $parent := initial $parts | join "." -}}
{{- $best := "" -}}
{{- $bestScore := 0 -}}
{{- range $candidate := .known -}}
{{- $cparts := splitList "." $candidate -}}
{{- $score := include "akvs.likeness" (dict "a" $name "b" (last $cparts) "sameParent" (eq (initial $cparts | join ".") $parent)) | int -}}
{{- if gt $score $bestScore -}}
{{- $best = $candidate -}}
{{- $bestScore = $score -}}
{{- end -}}
{{- end -}}
{{- $needed := max 3 (div (len $name) 2) | int -}}
{{- if ge (div $bestScore 4) $needed }}{{ $best }}{{ end -}}
{{- end -}}

{{/* The valid keys directly under a path ("" = top level). Arg: dict path tree. */}}
{{- define "akvs.keysUnder" -}}
{{- $node := .tree -}}
{{- if .path -}}
{{- range splitList "." .path -}}
{{- if and (kindIs "map" $node) (hasKey $node .) }}{{ $node = index $node . }}{{ else }}{{ $node = dict }}{{ end -}}
{{- end -}}
{{- end -}}
{{- if kindIs "map" $node }}{{ keys $node | sortAlpha | join ", " }}{{ end -}}
{{- end -}}

{{/* Fails the render on unknown keys and on settings akvs cannot honour. */}}
{{- define "akvs.validate" -}}
{{- $tree := include "akvs.knownKeys" . | fromYaml -}}
{{- $known := include "akvs.knownPaths" (dict "tree" $tree "prefix" "") | trim | splitList "\n" -}}
{{- $unknown := include "akvs.unknownPaths" (dict "values" .Values "tree" $tree "prefix" "") | trim -}}
{{- if $unknown -}}
{{- $messages := list -}}
{{- range $path := splitList "\n" $unknown -}}
{{- $nearest := include "akvs.nearestKey" (dict "path" $path "known" $known) -}}
{{- $parts := splitList "." $path -}}
{{- $parent := initial $parts | join "." -}}
{{- if $nearest -}}
{{- $messages = append $messages (printf "unknown setting %q: did you mean %q?" $path $nearest) -}}
{{- else -}}
{{- $messages = append $messages (printf "unknown setting %q; valid keys %s: %s" $path (ternary "at the top level" (printf "under %q" $parent) (eq $parent "")) (include "akvs.keysUnder" (dict "path" $parent "tree" $tree))) -}}
{{- end -}}
{{- end -}}
{{- fail (printf "akvs: %s (docs/install.md lists every setting)" (join "; " $messages)) -}}
{{- end -}}
{{- if .Values.windows.enabled -}}
{{- fail "akvs: windows.enabled=true: akvs runs on Linux nodes only" -}}
{{- end -}}
{{- if (index .Values "secrets-store-csi-driver").windows.enabled -}}
{{- fail "akvs: secrets-store-csi-driver.windows.enabled=true: akvs runs on Linux nodes only" -}}
{{- end -}}
{{- if .Values.policy.enabled -}}
{{- if not (include "akvs.vapSupported" .) -}}
{{- fail "akvs: policy.enabled=true needs ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1, Kubernetes 1.30+), which this cluster does not serve; the tenant policy was not installed" -}}
{{- end -}}
{{- range .Values.policy.allowedCloudEnvDirs -}}
{{- if regexMatch "(^|/)[.][.]?(/|$)" (trimPrefix "/" (toString .)) -}}
{{- fail (printf "akvs: policy.allowedCloudEnvDirs entry %q has a '.' or '..' segment; give the folder as an absolute path without them (for example /etc/kubernetes)" .) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $m := .Values.metrics -}}
{{- if and $m.serviceMonitor.enabled $m.podMonitor.enabled -}}
{{- fail "akvs: metrics.serviceMonitor.enabled and metrics.podMonitor.enabled both scrape the same metrics ports, which would count every series twice; enable one of them" -}}
{{- end -}}
{{- if and $m.serviceMonitor.enabled (include "akvs.syncOn" .) (not .Values.syncController.metricsService.enabled) -}}
{{- fail "akvs: metrics.serviceMonitor.enabled needs syncController.metricsService.enabled=true (the sync controller's ServiceMonitor selects that Service); or use metrics.podMonitor.enabled instead" -}}
{{- end -}}
{{- if and $m.prometheusRule.enabled (le (int $m.prometheusRule.expiryWarningDays) (int $m.prometheusRule.expiryCriticalDays)) -}}
{{- fail (printf "akvs: metrics.prometheusRule.expiryWarningDays (%v) must be more than expiryCriticalDays (%v): the warning comes first" $m.prometheusRule.expiryWarningDays $m.prometheusRule.expiryCriticalDays) -}}
{{- end -}}
{{- if and .Values.syncController.enabled .Values.syncController.validatingAdmissionPolicies.applyPolicies (not .Values.syncController.tokenRequestAudience) -}}
{{- fail "akvs: syncController.tokenRequestAudience is empty: the token admission policy would refuse every token; set an audience (api://AzureADTokenExchange)" -}}
{{- end -}}
{{- end -}}
