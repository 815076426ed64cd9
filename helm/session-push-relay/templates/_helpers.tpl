{{/* Chart name, truncated to the 63 characters Kubernetes names allow. */}}
{{- define "relay.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: the release name, prefixed unless it already contains the chart name. */}}
{{- define "relay.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "relay.selectorLabels" -}}
app.kubernetes.io/name: {{ include "relay.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "relay.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "relay.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "relay.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "relay.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "relay.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* Where a service's Secret is mounted (the whole Secret: one file per key). */}}
{{- define "relay.serviceSecretDir" -}}
{{- printf "/secrets/services/%s" .name }}
{{- end }}

{{/* A volume name for a service's Secret. */}}
{{- define "relay.serviceVolume" -}}
{{- printf "service-%s" .name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* A relay key's values name: snake_case to lowerCamelCase (request_timeout_secs → requestTimeoutSecs). */}}
{{- define "relay.valuesKey" -}}
{{- $parts := splitList "_" . }}
{{- first $parts }}{{ range rest $parts }}{{ title . }}{{ end }}
{{- end }}

{{/*
relay.toml, generated from config-keys.txt: the one list of relay keys this chart can render,
`section.key` per line (`services.key` for [[services]] tables), in the order they are written.
Each key takes, in this order, the value the chart sets itself (listeners, the data directory,
the paths of mounted Secret files) or the values key of the same name in lowerCamelCase:
config.<section>.<key> for sections, services[i].<key> for services. A key with neither is left
out and the relay's default applies. Secrets are never values: they reach the relay as files
(url_file, token_file, certificate_password_file, app_secret_file, key_file, …).
*/}}
{{- define "relay.configToml" -}}
{{- $root := . }}
{{- $keys := list }}
{{- range (.Files.Get "config-keys.txt" | splitList "\n") }}
{{- $line := trim . }}
{{- if and $line (not (hasPrefix "#" $line)) }}
{{- if ne (len (splitList "." $line)) 2 }}
{{- fail (printf "config-keys.txt: %q is not section.key" $line) }}
{{- end }}
{{- $keys = append $keys $line }}
{{- end }}
{{- end }}
{{- if not $keys }}
{{- fail "config-keys.txt is missing or empty" }}
{{- end }}
{{- /* Values the chart sets itself. */}}
{{- $fixed := dict "api" (dict "listen" "0.0.0.0:8080") "admin" (dict "listen" "0.0.0.0:9090") }}
{{- $_ := set $fixed "keys" (dict "dir" (ternary "/secrets/relay-keys" "/data/keys" (not (empty .Values.keys.existingSecret)))) }}
{{- $_ = set $fixed "database" (dict "max_connections" .Values.database.maxConnections) }}
{{- with .Values.database.changesPollSecs }}
{{- $_ := set $fixed.database "changes_poll_secs" . }}
{{- end }}
{{- with .Values.database.batchMax }}
{{- $_ := set $fixed.database "batch_max" . }}
{{- end }}
{{- with .Values.database.batchWindowMs }}
{{- $_ := set $fixed.database "batch_window_ms" . }}
{{- end }}
{{- if .Values.database.existingSecret }}
{{- $_ = set $fixed.database "url_file" (printf "/secrets/database/%s" .Values.database.urlKey) }}
{{- else }}
{{- $_ = set $fixed.database "url" "sqlite:///data/relay.db" }}
{{- end }}
{{- if .Values.admin.existingSecret }}
{{- $_ = set $fixed.admin "token_file" (printf "/secrets/admin/%s" .Values.admin.tokenKey) }}
{{- end }}
{{- /* Sections, each written once, in the order config-keys.txt first names them. */}}
{{- $config := .Values.config | default dict }}
{{- $current := "" }}
{{- $done := dict }}
{{- range $entry := $keys }}
{{- $section := first (splitList "." $entry) }}
{{- $key := last (splitList "." $entry) }}
{{- if ne $section "services" }}
{{- if and (ne $section $current) (hasKey $done $section) }}
{{- fail (printf "config-keys.txt: the keys of [%s] must be on consecutive lines" $section) }}
{{- end }}
{{- $given := get $config $section | default dict }}
{{- $own := get $fixed $section | default dict }}
{{- $name := include "relay.valuesKey" $key }}
{{- $found := false }}
{{- $value := "" }}
{{- if hasKey $own $key }}
{{- $found = true }}
{{- $value = index $own $key }}
{{- else if and (hasKey $given $name) (not (kindIs "invalid" (index $given $name))) }}
{{- $found = true }}
{{- $value = index $given $name }}
{{- end }}
{{- if $found }}
{{- if ne $section $current }}
{{- $current = $section }}
{{- $_ := set $done $section true }}

{{ printf "[%s]" $section }}
{{- end }}
{{ $key }} = {{ toJson $value }}
{{- end }}
{{- end }}
{{- end }}
{{- /* One [[services]] table per service. */}}
{{- range $svc := .Values.services }}
{{- $dir := include "relay.serviceSecretDir" $svc }}
{{- $own := dict }}
{{- if eq $svc.kind "apns" }}
{{- if eq (default "token" $svc.auth) "certificate" }}
{{- $_ := set $own "certificate_file" (printf "%s/certificate.p12" $dir) }}
{{- $_ := set $own "certificate_password_file" (printf "%s/password" $dir) }}
{{- else }}
{{- $_ := set $own "key_file" (printf "%s/key.p8" $dir) }}
{{- end }}
{{- else if eq $svc.kind "fcm" }}
{{- $_ := set $own "service_account_file" (printf "%s/service-account.json" $dir) }}
{{- else if eq $svc.kind "hms" }}
{{- $_ := set $own "app_secret_file" (printf "%s/app-secret" $dir) }}
{{- end }}

[[services]]
{{- range $entry := $keys }}
{{- if hasPrefix "services." $entry }}
{{- $key := last (splitList "." $entry) }}
{{- $name := include "relay.valuesKey" $key }}
{{- if hasKey $own $key }}
{{ $key }} = {{ index $own $key | toJson }}
{{- else if and (hasKey $svc $name) (not (kindIs "invalid" (index $svc $name))) }}
{{ $key }} = {{ index $svc $name | toJson }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
checksum/secrets: changes when the pods must restart to read their Secrets again. It hashes the
Secrets the pods mount (names and keys), secretsChecksum (set it to anything new, e.g. a hash of
your Secrets, to roll the pods after changing a Secret's content) and, with lookupSecrets: true,
the Secrets' data as read from the cluster at install/upgrade time (needs `get` on Secrets; under
`helm template` and GitOps renderers the lookup finds nothing and only the rest counts).
*/}}
{{- define "relay.secretsChecksum" -}}
{{- $refs := list }}
{{- with .Values.database.existingSecret }}
{{- $refs = append $refs (dict "secret" . "keys" (list $.Values.database.urlKey)) }}
{{- end }}
{{- with .Values.admin.existingSecret }}
{{- $refs = append $refs (dict "secret" . "keys" (list $.Values.admin.tokenKey)) }}
{{- end }}
{{- with .Values.keys.existingSecret }}
{{- $refs = append $refs (dict "secret" . "keys" (list "onion.key" "swarm.key" "storage.key")) }}
{{- end }}
{{- range .Values.services }}
{{- if .existingSecret }}
{{- $refs = append $refs (dict "secret" .existingSecret "service" .name) }}
{{- end }}
{{- end }}
{{- $data := list }}
{{- if .Values.lookupSecrets }}
{{- range $refs }}
{{- $found := lookup "v1" "Secret" $.Release.Namespace .secret }}
{{- $data = append $data (dict "secret" .secret "data" (get ($found | default dict) "data")) }}
{{- end }}
{{- end }}
{{- dict "refs" $refs "secretsChecksum" .Values.secretsChecksum "data" $data | toJson | sha256sum }}
{{- end }}

{{/* Refuses value combinations the schema cannot express. */}}
{{- define "relay.checks" -}}
{{- $replicas := ternary .Values.autoscaling.maxReplicas .Values.replicaCount .Values.autoscaling.enabled }}
{{- if and (gt (int $replicas) 1) (not .Values.database.existingSecret) }}
{{- fail "more than one replica needs Postgres: set database.existingSecret (SQLite is one pod's file)" }}
{{- end }}
{{- if and (gt (int $replicas) 1) (not .Values.keys.existingSecret) }}
{{- fail "more than one replica needs shared relay keys: set keys.existingSecret" }}
{{- end }}
{{- $names := dict }}
{{- range .Values.services }}
{{- if hasKey $names .name }}
{{- fail (printf "services: the name %q is used twice" .name) }}
{{- end }}
{{- $_ := set $names .name true }}
{{- if and (ne .kind "log") (not .existingSecret) }}
{{- fail (printf "services[%s]: kind %s needs existingSecret" .name .kind) }}
{{- end }}
{{- end }}
{{- $cluster := (.Values.config.cluster | default dict).enabled }}
{{- if and (gt (int $replicas) 1) .Values.config.swarm.oxend (not $cluster) }}
{{- fail "more than one replica with swarm.oxend set would push every message once per replica: set config.cluster.enabled (they then split the swarms) or run one replica" }}
{{- end }}
{{- if and $cluster (not .Values.database.existingSecret) }}
{{- fail "config.cluster.enabled needs Postgres: set database.existingSecret" }}
{{- end }}
{{- end }}

{{/* A Service's name: (list $ "public") or (list $ "admin"). */}}
{{- define "relay.serviceName" -}}
{{- printf "%s-%s" (include "relay.fullname" (index . 0)) (index . 1) | trunc 63 | trimSuffix "-" }}
{{- end }}
