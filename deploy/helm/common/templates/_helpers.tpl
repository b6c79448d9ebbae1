{{/*
Names, labels and shared values for the Lianxin service charts.
A service chart's .Chart.Name is the service (intake, registry, routing, notify).
*/}}

{{/* The service this chart runs. */}}
{{- define "lianxin-common.service" -}}
{{- .Chart.Name -}}
{{- end -}}

{{/*
Object name: fullnameOverride, else "<release>-<service>" (just "<service>" when the
release is named like the service). Peers are found by the same rule, so inside the
umbrella (one release) every service knows the others' names.
*/}}
{{- define "lianxin-common.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- include "lianxin-common.nameFor" (dict "release" .Release.Name "service" .Chart.Name) -}}
{{- end -}}
{{- end -}}

{{- define "lianxin-common.nameFor" -}}
{{- if eq .release .service -}}
{{- .service | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .release .service | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "lianxin-common.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "lianxin-common.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lianxin-common.service" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "lianxin-common.labels" -}}
helm.sh/chart: {{ include "lianxin-common.chart" . }}
{{ include "lianxin-common.selectorLabels" . }}
app.kubernetes.io/version: {{ include "lianxin-common.imageTag" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: lianxin
{{- with (include "lianxin-common.shared" (dict "ctx" . "key" "commonLabels") | fromYaml) }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
A shared value: the service chart's own `.Values.<key>` with `.Values.global.<key>` merged
over it (the umbrella sets globals once for all four). Returns YAML; use with fromYaml.
*/}}
{{- define "lianxin-common.shared" -}}
{{- $ctx := .ctx -}}
{{- $local := index $ctx.Values .key | default dict -}}
{{- $global := dict -}}
{{- if $ctx.Values.global -}}
{{- $global = index $ctx.Values.global .key | default dict -}}
{{- end -}}
{{- toYaml (mergeOverwrite (deepCopy $local) (deepCopy $global)) -}}
{{- end -}}

{{- define "lianxin-common.imageTag" -}}
{{- $image := include "lianxin-common.shared" (dict "ctx" . "key" "image") | fromYaml -}}
{{- $image.tag | default .Chart.AppVersion -}}
{{- end -}}

{{- define "lianxin-common.image" -}}
{{- $image := include "lianxin-common.shared" (dict "ctx" . "key" "image") | fromYaml -}}
{{- $repo := $image.repository | required "image.repository is required" -}}
{{- if $image.registry -}}
{{- $repo = printf "%s/%s" $image.registry $repo -}}
{{- end -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $repo $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (include "lianxin-common.imageTag" .) -}}
{{- end -}}
{{- end -}}

{{/* LIANXIN_<SERVICE>_ */}}
{{- define "lianxin-common.envPrefix" -}}
{{- printf "LIANXIN_%s_" (upper (include "lianxin-common.service" .)) -}}
{{- end -}}

{{/* host:port of a peer service (routing → registry, …), by the naming rule above. */}}
{{- define "lianxin-common.peerTarget" -}}
{{- $peer := .peer -}}
{{- $host := $peer.host | default (include "lianxin-common.nameFor" (dict "release" .ctx.Release.Name "service" $peer.service)) -}}
{{- printf "%s:%v" $host $peer.port -}}
{{- end -}}

{{/* "true" when several pods of this service may run at once: the service is replica-safe,
its database is external (PostgreSQL: database.existingSecret; on SQLite one process holds
the file's writer lock) and it has no volume only one pod can mount. */}}
{{- define "lianxin-common.replicasAllowed" -}}
{{- $db := include "lianxin-common.shared" (dict "ctx" . "key" "database") | fromYaml -}}
{{- $sharedVolume := or (not .Values.persistence.enabled) (eq .Values.persistence.accessMode "ReadWriteMany") -}}
{{- if and .Values.replicaSafe $db.existingSecret $sharedVolume -}}true{{- end -}}
{{- end -}}

{{/* Refuse replica counts and updates the service cannot run (see replicaSafe in values.yaml). */}}
{{- define "lianxin-common.checkReplicas" -}}
{{- $service := include "lianxin-common.service" . -}}
{{- $db := include "lianxin-common.shared" (dict "ctx" . "key" "database") | fromYaml -}}
{{- if or (gt (int .Values.replicaCount) 1) .Values.autoscaling.enabled -}}
{{- if not .Values.replicaSafe -}}
{{- fail (printf "%s: replicaCount > 1 or autoscaling needs replicaSafe=true; this version of %s cannot run several pods yet: %s" $service $service .Values.replicaSafeReason) -}}
{{- else if not $db.existingSecret -}}
{{- fail (printf "%s: replicaCount > 1 or autoscaling needs an external PostgreSQL (database.existingSecret): on SQLite (no existingSecret) %s takes one writer, a process holds the database file's lock and a second pod is refused at start" $service $service) -}}
{{- else if not (include "lianxin-common.replicasAllowed" .) -}}
{{- fail (printf "%s: replicaCount > 1 or autoscaling with persistence.accessMode=%s: the pods would share a volume only one node can mount; use ReadWriteMany storage (a shared file system) or persistence.enabled=false" $service .Values.persistence.accessMode) -}}
{{- end -}}
{{- end -}}
{{- if and (eq (toString .Values.updateStrategy.type) "RollingUpdate") (not (include "lianxin-common.replicasAllowed" .)) -}}
{{- fail (printf "%s: updateStrategy RollingUpdate runs the old and the new pod at once; it needs what replicas need (replicaSafe=true, an external PostgreSQL, no ReadWriteOnce volume): use Recreate or leave updateStrategy.type empty" $service) -}}
{{- end -}}
{{- end -}}

{{/* The Deployment's strategy: updateStrategy as given, or (type empty) RollingUpdate when
several pods may run at once (one extra pod, none down), else Recreate. */}}
{{- define "lianxin-common.updateStrategy" -}}
{{- if .Values.updateStrategy.type -}}
{{- toYaml .Values.updateStrategy -}}
{{- else if include "lianxin-common.replicasAllowed" . -}}
type: RollingUpdate
rollingUpdate:
  maxSurge: 1
  maxUnavailable: 0
{{- else -}}
type: Recreate
{{- end -}}
{{- end -}}

{{/*
"true" when the hook Job migrates: asked for (migration.enabled) and the database is
external (database.existingSecret). With SQLite on the pod's own volume the Job could not
reach the file, so there the pod migrates at start.
*/}}
{{- define "lianxin-common.jobMigrates" -}}
{{- $db := include "lianxin-common.shared" (dict "ctx" . "key" "database") | fromYaml -}}
{{- if and (.Values.migration | default dict).enabled $db.existingSecret -}}true{{- end -}}
{{- end -}}

{{/*
How the server is reached: "grpc" (the four services: gRPC on ports.grpc with native gRPC
probes, /metrics on ports.metrics) or "http" (the Open311 gateway: HTTP on ports.http,
probes on /livez and /readyz, /metrics on the same port). A chart without ports.http is a
gRPC service.
*/}}
{{- define "lianxin-common.protocol" -}}
{{- if .Values.ports.http -}}http{{- else -}}grpc{{- end -}}
{{- end -}}

{{/* The named container port Prometheus scrapes: "metrics", or "http" for an HTTP server. */}}
{{- define "lianxin-common.metricsPort" -}}
{{- if eq (include "lianxin-common.protocol" .) "http" -}}http{{- else -}}metrics{{- end -}}
{{- end -}}

{{/* "true" when the chart mounts a district policy (charts without a policy block do not). */}}
{{- define "lianxin-common.policyEnabled" -}}
{{- if (.Values.policy | default dict).enabled -}}true{{- end -}}
{{- end -}}

{{/* "true" when TLS is on for this chart (its own tls or global.tls). */}}
{{- define "lianxin-common.tlsEnabled" -}}
{{- ternary "true" "false" (eq (toString (include "lianxin-common.shared" (dict "ctx" . "key" "tls") | fromYaml).enabled) "true") -}}
{{- end -}}
