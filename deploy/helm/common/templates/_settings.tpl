{{/*
The service's settings as env vars (LIANXIN_<SERVICE>_<NAME>: "value"), as YAML. The
settings ConfigMap holds exactly these, and the migration Job gets the same list inline
(a pre-install hook runs before the release's ConfigMaps exist).
*/}}
{{- define "lianxin-common.settingsEnv" -}}
{{- $p := include "lianxin-common.envPrefix" . -}}
{{- $nats := include "lianxin-common.shared" (dict "ctx" . "key" "nats") | fromYaml -}}
{{- $stream := include "lianxin-common.shared" (dict "ctx" . "key" "stream") | fromYaml -}}
{{- $env := dict -}}
{{- $_ := set $env (print $p "HOST") "0.0.0.0" -}}
{{- if eq (include "lianxin-common.protocol" .) "http" -}}
{{- $_ = set $env (print $p "HTTP_PORT") (toString .Values.ports.http) -}}
{{- else -}}
{{- $_ = set $env (print $p "GRPC_PORT") (toString .Values.ports.grpc) -}}
{{- if .Values.metrics.enabled -}}
{{- $_ = set $env (print $p "METRICS_PORT") (toString .Values.ports.metrics) -}}
{{- else -}}
{{- $_ = set $env (print $p "METRICS_PORT") "off" -}}
{{- end -}}
{{- end -}}
{{- $_ = set $env (print $p "DATA_DIR") "/data" -}}
{{- /* NATS and the stream: for the services that have them (the gateway has none). */ -}}
{{- if hasKey .Values "nats" -}}
{{- $_ = set $env (print $p "NATS_URL") ($nats.url | required "nats.url is required (global.nats.url in the umbrella)") -}}
{{- $_ = set $env (print $p "STREAM_NAME") (toString $stream.name) -}}
{{- $_ = set $env (print $p "STREAM_REPLICAS") (toString $stream.replicas) -}}
{{- $_ = set $env (print $p "STREAM_MAX_AGE_SECONDS") (toString $stream.maxAgeSeconds) -}}
{{- $_ = set $env (print $p "STREAM_MAX_BYTES") (toString (int64 $stream.maxBytes)) -}}
{{- $_ = set $env (print $p "STREAM_DISCARD") (toString $stream.discard) -}}
{{- $natsAuth := $nats.auth | default dict -}}
{{- if $natsAuth.existingSecret -}}
{{- $_ = set $env (print $p "NATS_USER") ($natsAuth.user | default (include "lianxin-common.service" .)) -}}
{{- end -}}
{{- $natsTls := $nats.tls | default dict -}}
{{- if $natsTls.existingSecret -}}
{{- $_ = set $env (print $p "NATS_TLS_CA_FILE") "/etc/lianxin/nats-tls/ca.crt" -}}
{{- if $natsTls.clientCert -}}
{{- $_ = set $env (print $p "NATS_TLS_CERT_FILE") "/etc/lianxin/nats-tls/tls.crt" -}}
{{- $_ = set $env (print $p "NATS_TLS_KEY_FILE") "/etc/lianxin/nats-tls/tls.key" -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- /* TLS: the gRPC server's certificate and the channels' (the gateway: channels only). */ -}}
{{- /* Who may call: tokens checked against the identity provider's keys. */ -}}
{{- $auth := include "lianxin-common.shared" (dict "ctx" . "key" "auth") | fromYaml -}}
{{- /* The gateway checks API keys, not tokens: it only presents its own. */ -}}
{{- if ne (include "lianxin-common.protocol" .) "http" -}}
{{- if $auth.jwksUrl -}}
{{- $_ = set $env (print $p "AUTH_JWKS") (toString $auth.jwksUrl) -}}
{{- else if $auth.jwks -}}
{{- $_ = set $env (print $p "AUTH_JWKS") "/etc/lianxin/auth-jwks/jwks.json" -}}
{{- end -}}
{{- end -}}
{{- with $auth.issuer -}}
{{- $_ = set $env (print $p "AUTH_ISSUER") (toString .) -}}
{{- end -}}
{{- with $auth.audience -}}
{{- $_ = set $env (print $p "AUTH_AUDIENCE") (toString .) -}}
{{- end -}}
{{- if $auth.serviceTokenSecret -}}
{{- $key := index ($auth.serviceTokenKeys | default dict) (include "lianxin-common.service" .) | default (printf "%s-token" (include "lianxin-common.service" .)) -}}
{{- $_ = set $env (print $p "AUTH_SERVICE_TOKEN_FILE") (printf "/etc/lianxin/auth-token/%s" $key) -}}
{{- end -}}
{{- $tls := include "lianxin-common.shared" (dict "ctx" . "key" "tls") | fromYaml -}}
{{- if $tls.enabled -}}
{{- $_ = set $env (print $p "TLS_ENABLED") "true" -}}
{{- $_ = set $env (print $p "TLS_CA_FILE") "/etc/lianxin/tls/ca.crt" -}}
{{- if eq (include "lianxin-common.protocol" .) "http" -}}
{{- $_ = set $env (print $p "TLS_CLIENT_CERT_FILE") "/etc/lianxin/tls/tls.crt" -}}
{{- $_ = set $env (print $p "TLS_CLIENT_KEY_FILE") "/etc/lianxin/tls/tls.key" -}}
{{- else -}}
{{- $_ = set $env (print $p "TLS_CERT_FILE") "/etc/lianxin/tls/tls.crt" -}}
{{- $_ = set $env (print $p "TLS_KEY_FILE") "/etc/lianxin/tls/tls.key" -}}
{{- $_ = set $env (print $p "TLS_REQUIRE_CLIENT_CERT") (ternary "true" "false" (ne $tls.requireClientCert false)) -}}
{{- $_ = set $env (print $p "HEALTH_PORT") (toString .Values.ports.health) -}}
{{- end -}}
{{- with $tls.serverName -}}
{{- $_ = set $env (print $p "TLS_SERVER_NAME") . -}}
{{- end -}}
{{- end -}}
{{- /* Charts without a migration block always migrate at start (under an advisory lock). */ -}}
{{- if hasKey .Values "migration" -}}
{{- $_ = set $env (print $p "MIGRATE_ON_START") (ternary "false" "true" (eq (include "lianxin-common.jobMigrates" .) "true")) -}}
{{- end -}}
{{- $_ = set $env (print $p "LOG_LEVEL") (toString .Values.logLevel) -}}
{{- $_ = set $env (print $p "SHUTDOWN_GRACE_SECONDS") (toString .Values.shutdownGraceSeconds) -}}
{{- if include "lianxin-common.policyEnabled" . -}}
{{- $_ = set $env (print $p "POLICY_FILE") (printf "/etc/lianxin/policy/%s" .Values.policy.file) -}}
{{- end -}}
{{- range .Values.peers -}}
{{- $_ = set $env (print $p .setting) (include "lianxin-common.peerTarget" (dict "ctx" $ "peer" .)) -}}
{{- end -}}
{{- range $k, $v := .Values.settings -}}
{{- $_ = set $env (print $p (upper $k)) (toString $v) -}}
{{- end -}}
{{- toYaml $env -}}
{{- end -}}

{{/* Env entries from Secrets: the database URL and any `secretEnv`. Never inlined. */}}
{{- define "lianxin-common.secretEnv" -}}
{{- $p := include "lianxin-common.envPrefix" . -}}
{{- $db := include "lianxin-common.shared" (dict "ctx" . "key" "database") | fromYaml -}}
{{- $service := include "lianxin-common.service" . -}}
{{- if $db.existingSecret }}
- name: {{ print $p "DATABASE_URL" }}
  valueFrom:
    secretKeyRef:
      name: {{ $db.existingSecret }}
      key: {{ index ($db.keys | default dict) $service | default (printf "%s-url" $service) }}
{{- end }}
{{- $nats := include "lianxin-common.shared" (dict "ctx" . "key" "nats") | fromYaml -}}
{{- $natsAuth := $nats.auth | default dict -}}
{{- if and (hasKey .Values "nats") $natsAuth.existingSecret }}
- name: {{ print $p "NATS_PASSWORD" }}
  valueFrom:
    secretKeyRef:
      name: {{ $natsAuth.existingSecret }}
      key: {{ index ($natsAuth.keys | default dict) $service | default (printf "%s-password" $service) }}
{{- end }}
{{- range $name, $ref := .Values.secretEnv }}
- name: {{ print $p (upper $name) }}
  valueFrom:
    secretKeyRef:
      name: {{ $ref.secretName }}
      key: {{ $ref.key }}
{{- end }}
{{- end -}}
