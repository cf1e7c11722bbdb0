{{/*
Names and labels. Every object of a service is named "<release>-<service>" (trimmed to 63).
*/}}

{{- define "tslib.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* (dict "ctx" $ "name" "ingest") */}}
{{- define "tslib.componentName" -}}
{{- printf "%s-%s" (include "tslib.fullname" .ctx) .name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "tslib.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/part-of: trackstream
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* (dict "ctx" $ "name" "ingest") */}}
{{- define "tslib.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- end -}}

{{/* (dict "ctx" $ "name" "ingest") */}}
{{- define "tslib.labels" -}}
{{ include "tslib.commonLabels" .ctx }}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/component: {{ .name }}
{{- end -}}

{{- define "tslib.secretName" -}}
{{- default (printf "%s-secrets" (include "tslib.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "tslib.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "tslib.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* (dict "ctx" $ "name" "ingest" "svc" $values) -> registry/trackstream-<name>:<tag> */}}
{{- define "tslib.image" -}}
{{- $image := .ctx.Values.image -}}
{{- $own := default dict .svc.image -}}
{{- $repository := default (printf "%s/trackstream-%s" $image.registry .name) $own.repository -}}
{{- $tag := default (default .ctx.Chart.AppVersion $image.tag) $own.tag -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end -}}
