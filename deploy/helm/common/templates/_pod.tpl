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
