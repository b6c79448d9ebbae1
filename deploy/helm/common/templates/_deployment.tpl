{{- define "lianxin-common.deployment" -}}
{{- include "lianxin-common.checkReplicas" . -}}
{{- $fullname := include "lianxin-common.fullname" . -}}
{{- $service := include "lianxin-common.service" . -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ $fullname }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "lianxin-common.labels" . | nindent 4 }}
    app.kubernetes.io/component: server
spec:
  {{- if not .Values.autoscaling.enabled }}
  replicas: {{ .Values.replicaCount }}
  {{- end }}
  revisionHistoryLimit: {{ .Values.revisionHistoryLimit }}
  strategy:
    {{- include "lianxin-common.updateStrategy" . | nindent 4 }}
  selector:
    matchLabels:
      {{- include "lianxin-common.selectorLabels" . | nindent 6 }}
      app.kubernetes.io/component: server
  template:
    metadata:
      labels:
        {{- include "lianxin-common.labels" . | nindent 8 }}
        app.kubernetes.io/component: server
        {{- with .Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        checksum/settings: {{ include "lianxin-common.settingsEnv" . | sha256sum }}
        {{- if and (include "lianxin-common.policyEnabled" .) (not .Values.policy.existingConfigMap) }}
        checksum/policy: {{ .Files.Get (printf "files/policies/%s" .Values.policy.file) | sha256sum }}
        {{- end }}
        {{- with .Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "lianxin-common.serviceAccountName" . }}
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
      {{- with .Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- include "lianxin-common.podSecurityContext" . | nindent 8 }}
      {{- if .Values.topologySpread.enabled }}
      topologySpreadConstraints:
        {{- range .Values.topologySpread.topologyKeys }}
        - maxSkew: {{ $.Values.topologySpread.maxSkew }}
          topologyKey: {{ . }}
          whenUnsatisfiable: {{ $.Values.topologySpread.whenUnsatisfiable }}
          labelSelector:
            matchLabels:
              {{- include "lianxin-common.selectorLabels" $ | nindent 14 }}
              app.kubernetes.io/component: server
        {{- end }}
      {{- end }}
      {{- include "lianxin-common.scheduling" . | nindent 6 }}
      containers:
        - name: {{ $service }}
          image: {{ include "lianxin-common.image" . }}
          imagePullPolicy: {{ (include "lianxin-common.shared" (dict "ctx" . "key" "image") | fromYaml).pullPolicy | default "IfNotPresent" }}
          command: ["/opt/lianxin/bin/dumb-init", "--", "lianxin"]
          args: ["serve", {{ $service | quote }}]
          ports:
            {{- if eq (include "lianxin-common.protocol" .) "http" }}
            - name: http
              containerPort: {{ .Values.ports.http }}
              protocol: TCP
            {{- else }}
            - name: grpc
              containerPort: {{ .Values.ports.grpc }}
              protocol: TCP
            {{- if .Values.metrics.enabled }}
            - name: metrics
              containerPort: {{ .Values.ports.metrics }}
              protocol: TCP
            {{- end }}
            {{- if eq (include "lianxin-common.tlsEnabled" .) "true" }}
            - name: health
              containerPort: {{ .Values.ports.health }}
              protocol: TCP
            {{- end }}
            {{- end }}
          envFrom:
            - configMapRef:
                name: {{ $fullname }}-settings
          {{- $secretEnv := include "lianxin-common.secretEnv" . }}
          {{- if or $secretEnv .Values.extraEnv }}
          env:
            {{- with $secretEnv }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- with .Values.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- end }}
          startupProbe:
            {{- include "lianxin-common.probeAction" (dict "ctx" . "path" "/livez" "service" "liveness") | nindent 12 }}
            periodSeconds: {{ .Values.probes.startup.periodSeconds }}
            timeoutSeconds: {{ .Values.probes.startup.timeoutSeconds }}
            failureThreshold: {{ .Values.probes.startup.failureThreshold }}
          readinessProbe:
            {{- include "lianxin-common.probeAction" (dict "ctx" . "path" "/readyz") | nindent 12 }}
            periodSeconds: {{ .Values.probes.readiness.periodSeconds }}
            timeoutSeconds: {{ .Values.probes.readiness.timeoutSeconds }}
            failureThreshold: {{ .Values.probes.readiness.failureThreshold }}
          livenessProbe:
            {{- include "lianxin-common.probeAction" (dict "ctx" . "path" "/livez" "service" "liveness") | nindent 12 }}
            periodSeconds: {{ .Values.probes.liveness.periodSeconds }}
            timeoutSeconds: {{ .Values.probes.liveness.timeoutSeconds }}
            failureThreshold: {{ .Values.probes.liveness.failureThreshold }}
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
          securityContext:
            {{- toYaml .Values.securityContext | nindent 12 }}
          volumeMounts:
            {{- include "lianxin-common.volumeMounts" . | nindent 12 }}
      volumes:
        {{- include "lianxin-common.volumes" . | nindent 8 }}
{{- if and .Values.persistence.enabled (not .Values.persistence.existingClaim) }}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: {{ $fullname }}-data
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "lianxin-common.labels" . | nindent 4 }}
  annotations:
    # Kept on `helm uninstall`: the data outlives the release (deploy/README.md).
    helm.sh/resource-policy: keep
spec:
  accessModes: [{{ .Values.persistence.accessMode }}]
  {{- with .Values.persistence.storageClass }}
  storageClassName: {{ . }}
  {{- end }}
  resources:
    requests:
      storage: {{ .Values.persistence.size }}
{{- end }}
{{- end -}}

{{- define "lianxin-common.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "lianxin-common.fullname" .) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{- define "lianxin-common.serviceaccount" -}}
{{- if .Values.serviceAccount.create -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "lianxin-common.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "lianxin-common.labels" . | nindent 4 }}
  {{- with .Values.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
# The services call no Kubernetes API: no token is mounted.
automountServiceAccountToken: false
{{- end -}}
{{- end -}}

{{- define "lianxin-common.service-object" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "lianxin-common.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "lianxin-common.labels" . | nindent 4 }}
  {{- with .Values.serviceAnnotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ .Values.serviceType }}
  selector:
    {{- include "lianxin-common.selectorLabels" . | nindent 4 }}
    app.kubernetes.io/component: server
  ports:
    {{- if eq (include "lianxin-common.protocol" .) "http" }}
    - name: http
      port: {{ .Values.ports.http }}
      targetPort: http
      protocol: TCP
      appProtocol: http
    {{- else }}
    - name: grpc
      port: {{ .Values.ports.grpc }}
      targetPort: grpc
      protocol: TCP
      appProtocol: grpc
    {{- end }}
    {{- if and .Values.metrics.enabled (eq (include "lianxin-common.protocol" .) "grpc") }}
    - name: metrics
      port: {{ .Values.ports.metrics }}
      targetPort: metrics
      protocol: TCP
      appProtocol: http
    {{- end }}
{{- end -}}

{{/* A probe's action: native gRPC health on the grpc port, or an HTTP GET of `path` on the
http port (the gateway: /livez while it runs, /readyz while intake and routing answer). */}}
{{- define "lianxin-common.probeAction" -}}
{{- if eq (include "lianxin-common.protocol" .ctx) "http" -}}
httpGet:
  path: {{ .path }}
  port: http
{{- else -}}
grpc:
  {{- /* Kubernetes' gRPC probes cannot speak TLS: with TLS they ask the plaintext health port. */}}
  port: {{ ternary .ctx.Values.ports.health .ctx.Values.ports.grpc (eq (include "lianxin-common.tlsEnabled" .ctx) "true") }}
  {{- with .service }}
  service: {{ . }}
  {{- end }}
{{- end -}}
{{- end -}}
