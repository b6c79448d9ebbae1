{{/* The container's security context: non-root, read-only root, nothing extra. */}}
{{- define "lianxin-common.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext -}}
{{- end -}}

{{- define "lianxin-common.volumes" -}}
- name: data
  {{- if .Values.persistence.enabled }}
  persistentVolumeClaim:
    claimName: {{ .Values.persistence.existingClaim | default (printf "%s-data" (include "lianxin-common.fullname" .)) }}
  {{- else }}
  emptyDir:
    sizeLimit: {{ .Values.persistence.emptyDirSizeLimit }}
  {{- end }}
- name: tmp
  emptyDir:
    medium: Memory
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- $tls := include "lianxin-common.shared" (dict "ctx" . "key" "tls") | fromYaml }}
{{- if $tls.enabled }}
- name: tls
  secret:
    secretName: {{ $tls.existingSecret | required "tls.enabled needs tls.existingSecret (a Secret with tls.crt, tls.key, ca.crt)" }}
    defaultMode: 0440
{{- end }}
{{- $nats := include "lianxin-common.shared" (dict "ctx" . "key" "nats") | fromYaml }}
{{- if and (hasKey .Values "nats") ($nats.tls | default dict).existingSecret }}
- name: nats-tls
  secret:
    secretName: {{ $nats.tls.existingSecret }}
    defaultMode: 0440
{{- end }}
{{- $auth := include "lianxin-common.shared" (dict "ctx" . "key" "auth") | fromYaml }}
{{- if $auth.jwks }}
- name: auth-jwks
  configMap:
    name: {{ include "lianxin-common.fullname" . }}-jwks
{{- end }}
{{- if $auth.serviceTokenSecret }}
- name: auth-token
  secret:
    secretName: {{ $auth.serviceTokenSecret }}
    defaultMode: 0440
{{- end }}
{{- if include "lianxin-common.policyEnabled" . }}
- name: policy
  configMap:
    name: {{ .Values.policy.existingConfigMap | default (printf "%s-policy" (include "lianxin-common.fullname" .)) }}
{{- end }}
{{- end -}}

{{- define "lianxin-common.volumeMounts" -}}
- name: data
  mountPath: /data
- name: tmp
  mountPath: /tmp
{{- if (include "lianxin-common.shared" (dict "ctx" . "key" "tls") | fromYaml).enabled }}
- name: tls
  mountPath: /etc/lianxin/tls
  readOnly: true
{{- end }}
{{- $nats := include "lianxin-common.shared" (dict "ctx" . "key" "nats") | fromYaml }}
{{- if and (hasKey .Values "nats") ($nats.tls | default dict).existingSecret }}
- name: nats-tls
  mountPath: /etc/lianxin/nats-tls
  readOnly: true
{{- end }}
{{- $auth := include "lianxin-common.shared" (dict "ctx" . "key" "auth") | fromYaml }}
{{- if $auth.jwks }}
- name: auth-jwks
  mountPath: /etc/lianxin/auth-jwks
  readOnly: true
{{- end }}
{{- if $auth.serviceTokenSecret }}
- name: auth-token
  mountPath: /etc/lianxin/auth-token
  readOnly: true
{{- end }}
{{- if include "lianxin-common.policyEnabled" . }}
- name: policy
  mountPath: /etc/lianxin/policy
  readOnly: true
{{- end }}
{{- end -}}

{{- define "lianxin-common.scheduling" -}}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- end -}}
