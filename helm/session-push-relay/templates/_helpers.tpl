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

{{/*
"true" when some service needs a secret inside relay.toml itself (an HMS app_secret, an APNs
certificate password): an init container then writes the final relay.toml from the ConfigMap.
*/}}
{{- define "relay.inlineSecrets" -}}
{{- range .Values.services }}
{{- if or (eq .kind "hms") (and (eq .kind "apns") (eq (default "token" .auth) "certificate")) }}true{{ end }}
{{- end }}
{{- end }}

{{/* Where a service's Secret is mounted. */}}
{{- define "relay.serviceSecretDir" -}}
{{- printf "/secrets/services/%s" .name }}
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
{{- end }}

{{/* A Service's name: (list $ "public") or (list $ "admin"). */}}
{{- define "relay.serviceName" -}}
{{- printf "%s-%s" (include "relay.fullname" (index . 0)) (index . 1) | trunc 63 | trimSuffix "-" }}
{{- end }}
