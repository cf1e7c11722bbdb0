{{/*
Pod pieces every workload shares: security contexts, probes on the ops port, resources, /tmp.
*/}}

{{- define "tslib.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "tslib.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* the ServiceRunner's /healthz (process alive) and /readyz (started, checks pass, not draining).
Liveness starts once the startup probe passed: by default as soon as /healthz answers; a service
that loads data at start sets its block's startupProbe (path /readyz and a longer allowance), so
that liveness begins only once it is ready */}}
{{- define "tslib.probes" -}}
{{- $startup := default dict .svc.startupProbe -}}
startupProbe:
  httpGet: {path: {{ default "/healthz" $startup.path }}, port: ops}
  periodSeconds: {{ default 2 $startup.periodSeconds }}
  failureThreshold: {{ default 60 $startup.failureThreshold }}
livenessProbe:
  httpGet: {path: /healthz, port: ops}
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  httpGet: {path: /readyz, port: ops}
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 2
{{- end -}}

{{/* a read-only root file system: Python and the clients may still need a scratch /tmp */}}
{{- define "tslib.tmpVolumeMount" -}}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{- define "tslib.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- end -}}

{{/* env from the shared Secret: (dict "ctx" $ "secretEnv" (dict "ENV_NAME" "secret-key")) */}}
{{- define "tslib.secretEnv" -}}
{{- range $name, $key := .secretEnv }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "tslib.secretName" $.ctx }}
      key: {{ $key }}
{{- end }}
{{- end -}}

{{/* one environment value, quoted. YAML numbers reach templates as float64, and toString writes
a whole one of a million or more as 1e+06, which an int setting refuses: whole numbers are
written as integers */}}
{{- define "tslib.envValue" -}}
{{- if and (kindIs "float64" .) (eq . (floor .)) -}}
{{- int64 . | toString | quote -}}
{{- else -}}
{{- . | toString | quote -}}
{{- end -}}
{{- end -}}
