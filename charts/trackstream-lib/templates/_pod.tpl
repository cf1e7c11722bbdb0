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

{{/* the ServiceRunner's /healthz (process alive) and /readyz (started, checks pass, not draining) */}}
{{- define "tslib.probes" -}}
startupProbe:
  httpGet: {path: /healthz, port: ops}
  periodSeconds: 2
  failureThreshold: 60
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
