{{/*
The migration Job: `lianxin migrate <service>` as a pre-install/pre-upgrade hook, so the
schema is at the new head before any new pod starts (the pods then only check it:
MIGRATE_ON_START=false). Migrations are additive, so the old version keeps serving while
it runs. Its env is inline (hooks run before the release's ConfigMaps exist).
*/}}
{{- define "lianxin-common.migrationJob" -}}
{{- if include "lianxin-common.jobMigrates" . -}}
{{- $fullname := include "lianxin-common.fullname" . -}}
{{- $service := include "lianxin-common.service" . -}}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ $fullname }}-migrate
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "lianxin-common.labels" . | nindent 4 }}
    app.kubernetes.io/component: migrate
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "0"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  backoffLimit: {{ .Values.migration.backoffLimit }}
  activeDeadlineSeconds: {{ .Values.migration.activeDeadlineSeconds }}
  ttlSecondsAfterFinished: {{ .Values.migration.ttlSecondsAfterFinished }}
  template:
    metadata:
      labels:
        {{- include "lianxin-common.selectorLabels" . | nindent 8 }}
        app.kubernetes.io/component: migrate
        app.kubernetes.io/part-of: lianxin
    spec:
      restartPolicy: Never
      automountServiceAccountToken: false
      enableServiceLinks: false
      {{- with .Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- include "lianxin-common.podSecurityContext" . | nindent 8 }}
      {{- include "lianxin-common.scheduling" . | nindent 6 }}
      containers:
        - name: migrate
          image: {{ include "lianxin-common.image" . }}
          imagePullPolicy: {{ (include "lianxin-common.shared" (dict "ctx" . "key" "image") | fromYaml).pullPolicy | default "IfNotPresent" }}
          command: ["/opt/lianxin/bin/dumb-init", "--", "lianxin"]
          args: ["migrate", {{ $service | quote }}]
          env:
            {{- range $name, $value := (include "lianxin-common.settingsEnv" . | fromYaml) }}
            - name: {{ $name }}
              value: {{ $value | quote }}
            {{- end }}
            {{- with include "lianxin-common.secretEnv" . }}
            {{- . | nindent 12 }}
            {{- end }}
          resources:
            {{- toYaml .Values.migration.resources | nindent 12 }}
          securityContext:
            {{- toYaml .Values.securityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            - name: data
              mountPath: /data
      volumes:
        - name: tmp
          emptyDir:
            medium: Memory
            sizeLimit: {{ .Values.tmpSizeLimit }}
        # The database is external: nothing is written here but the working directory.
        - name: data
          emptyDir:
            sizeLimit: 16Mi
{{- end -}}
{{- end -}}

{{- define "lianxin-common.pdb" -}}
{{- if .Values.podDisruptionBudget.enabled -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "lianxin-common.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "lianxin-common.labels" . | nindent 4 }}
spec:
  {{- if .Values.podDisruptionBudget.minAvailable }}
  minAvailable: {{ .Values.podDisruptionBudget.minAvailable }}
  {{- else }}
  maxUnavailable: {{ .Values.podDisruptionBudget.maxUnavailable }}
  {{- end }}
  selector:
    matchLabels:
      {{- include "lianxin-common.selectorLabels" . | nindent 6 }}
      app.kubernetes.io/component: server
{{- end -}}
{{- end -}}

{{- define "lianxin-common.hpa" -}}
{{- if .Values.autoscaling.enabled -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "lianxin-common.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "lianxin-common.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "lianxin-common.fullname" . }}
  minReplicas: {{ .Values.autoscaling.minReplicas }}
  maxReplicas: {{ .Values.autoscaling.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ .Values.autoscaling.targetCPUUtilizationPercentage }}
{{- end -}}
{{- end -}}

{{- define "lianxin-common.servicemonitor" -}}
{{- $sm := include "lianxin-common.shared" (dict "ctx" . "key" "serviceMonitor") | fromYaml -}}
{{- if and $sm.enabled .Values.metrics.enabled -}}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "lianxin-common.fullname" . }}
  namespace: {{ $sm.namespace | default .Release.Namespace }}
  labels:
    {{- include "lianxin-common.labels" . | nindent 4 }}
    {{- with $sm.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  namespaceSelector:
    matchNames: [{{ .Release.Namespace | quote }}]
  selector:
    matchLabels:
      {{- include "lianxin-common.selectorLabels" . | nindent 6 }}
  endpoints:
    - port: {{ include "lianxin-common.metricsPort" . }}
      path: /metrics
      interval: {{ $sm.interval }}
      scrapeTimeout: {{ $sm.scrapeTimeout }}
{{- end -}}
{{- end -}}

{{/* Everything a service chart renders: its templates/all.yaml includes this. */}}
{{- define "lianxin-common.all" -}}
{{- $parts := list "lianxin-common.serviceaccount" "lianxin-common.configmap" "lianxin-common.deployment" "lianxin-common.service-object" "lianxin-common.migrationJob" "lianxin-common.pdb" "lianxin-common.hpa" "lianxin-common.networkpolicy" "lianxin-common.servicemonitor" -}}
{{- range $parts }}
{{- $out := include . $ | trim }}
{{- if $out }}
---
{{ $out }}
{{- end }}
{{- end }}
{{- end -}}
