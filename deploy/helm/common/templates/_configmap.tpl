{{- define "lianxin-common.configmap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "lianxin-common.fullname" . }}-settings
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "lianxin-common.labels" . | nindent 4 }}
data:
  {{- include "lianxin-common.settingsEnv" . | nindent 2 }}
{{- $auth := include "lianxin-common.shared" (dict "ctx" . "key" "auth") | fromYaml }}
{{- if $auth.jwks }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "lianxin-common.fullname" . }}-jwks
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "lianxin-common.labels" . | nindent 4 }}
data:
  jwks.json: |-
    {{- $auth.jwks | nindent 4 }}
{{- end }}
{{- if and (include "lianxin-common.policyEnabled" .) (not .Values.policy.existingConfigMap) }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "lianxin-common.fullname" . }}-policy
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "lianxin-common.labels" . | nindent 4 }}
data:
  {{- $path := printf "files/policies/%s" .Values.policy.file }}
  {{- $content := .Files.Get $path }}
  {{- if not $content }}
  {{- fail (printf "policy.file %s: no %s in the chart (or set policy.existingConfigMap)" .Values.policy.file $path) }}
  {{- end }}
  {{ .Values.policy.file }}: |-
    {{- $content | nindent 4 }}
{{- end }}
{{- end -}}
