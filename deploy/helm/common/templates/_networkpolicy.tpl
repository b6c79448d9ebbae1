{{/*
NetworkPolicy: only the flows of DESIGN.md. Ingress to gRPC (the gateway: HTTP) from the
services that call this one (`networkPolicy.callers`) and from `networkPolicy.clients` (hotline systems, the
command centres' apps, an ingress controller); ingress to metrics from the scrapers.
Egress to DNS, NATS (services that use it), PostgreSQL, the peers this service calls (`peers`), and
`networkPolicy.extraEgress` (notify: SMS gateway and webhooks). The migration Job's pods
may only reach DNS and PostgreSQL.
*/}}
{{- define "lianxin-common.peerSelector" -}}
{{- if .podSelector -}}
{{- toYaml .podSelector -}}
{{- else -}}
matchLabels:
  app.kubernetes.io/name: {{ .service }}
  app.kubernetes.io/instance: {{ .release }}
  app.kubernetes.io/component: server
{{- end -}}
{{- end -}}

{{- define "lianxin-common.egressBase" -}}
{{- $np := .np -}}
{{- if $np.dns.enabled }}
- to:
    {{- toYaml $np.dns.to | nindent 4 }}
  ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- end }}
- ports:
    - port: {{ $np.postgresql.port }}
      protocol: TCP
  {{- with $np.postgresql.to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}

{{- define "lianxin-common.networkpolicy" -}}
{{- $np := include "lianxin-common.shared" (dict "ctx" . "key" "networkPolicy") | fromYaml -}}
{{- if $np.enabled -}}
{{- $fullname := include "lianxin-common.fullname" . -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ $fullname }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "lianxin-common.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "lianxin-common.selectorLabels" . | nindent 6 }}
      app.kubernetes.io/component: server
  policyTypes: [Ingress, Egress]
  ingress:
    {{- $from := list }}
    {{- range .Values.networkPolicy.callers }}
    {{- $from = append $from (dict "podSelector" (include "lianxin-common.peerSelector" (dict "service" .service "release" $.Release.Name "podSelector" .podSelector) | fromYaml)) }}
    {{- end }}
    {{- range $np.clients }}
    {{- $from = append $from . }}
    {{- end }}
    {{- if $from }}
    - from:
        {{- toYaml $from | nindent 8 }}
      ports:
        - port: {{ include "lianxin-common.protocol" . }}
          protocol: TCP
    {{- end }}
    {{- if and .Values.metrics.enabled $np.metrics }}
    - from:
        {{- toYaml $np.metrics | nindent 8 }}
      ports:
        - port: {{ include "lianxin-common.metricsPort" . }}
          protocol: TCP
    {{- end }}
    {{- with .Values.networkPolicy.extraIngress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  egress:
    {{- include "lianxin-common.egressBase" (dict "np" $np) | nindent 4 }}
    {{- if hasKey .Values "nats" }}
    - ports:
        - port: {{ $np.nats.port }}
          protocol: TCP
      {{- with $np.nats.to }}
      to:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- end }}
    {{- range .Values.peers }}
    - to:
        - podSelector:
            {{- include "lianxin-common.peerSelector" (dict "service" .service "release" $.Release.Name "podSelector" .podSelector) | nindent 12 }}
      ports:
        - port: {{ .port }}
          protocol: TCP
    {{- end }}
    {{- with .Values.networkPolicy.extraEgress }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- if include "lianxin-common.jobMigrates" . }}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ $fullname }}-migrate
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "lianxin-common.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "lianxin-common.selectorLabels" . | nindent 6 }}
      app.kubernetes.io/component: migrate
  policyTypes: [Ingress, Egress]
  ingress: []
  egress:
    {{- include "lianxin-common.egressBase" (dict "np" $np) | nindent 4 }}
{{- end }}
{{- end -}}
{{- end -}}
