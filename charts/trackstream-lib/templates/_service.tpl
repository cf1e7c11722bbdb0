{{/*
Every Kubernetes object of one Trackstream service, from its values block:

  {{ include "tslib.service" (dict "ctx" $ "name" "ingest") }}

reads .Values.services.<name> (see the umbrella chart's values.yaml for the fields) and renders
nothing when it is not enabled.
*/}}
{{- define "tslib.service" -}}
{{- $svc := get .ctx.Values.services .name -}}
{{- if not $svc -}}
{{- fail (printf "services.%s: no values block for this service" .name) -}}
{{- end -}}
{{- if $svc.enabled -}}
{{- $args := dict "ctx" .ctx "name" .name "svc" $svc -}}
{{ include "tslib.configMap" $args }}
---
{{ include "tslib.deployment" $args }}
---
{{ include "tslib.clusterService" $args }}
{{- if include "tslib.publicPorts" $args }}
---
{{ include "tslib.publicService" $args }}
{{- end }}
{{- if and $svc.ingress $svc.ingress.enabled }}
---
{{ include "tslib.ingress" $args }}
{{- end }}
{{- if $svc.autoscaling.enabled }}
---
{{ include "tslib.hpa" $args }}
{{- end }}
{{- if $svc.pdb.enabled }}
---
{{ include "tslib.pdb" $args }}
{{- end }}
{{- if .ctx.Values.networkPolicy.enabled }}
---
{{ include "tslib.networkPolicy" $args }}
{{- end }}
{{- if .ctx.Values.serviceMonitor.enabled }}
---
{{ include "tslib.serviceMonitor" $args }}
{{- end }}
{{- end -}}
{{- end -}}

{{/* the service's own settings: its env block plus the ops endpoint and the ports it listens on */}}
{{- define "tslib.configMap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "tslib.componentName" . }}
  labels:
    {{- include "tslib.labels" . | nindent 4 }}
data:
  {{- include "tslib.configData" . | nindent 2 }}
{{- end -}}

{{- define "tslib.configData" -}}
{{- $svc := .svc -}}
{{ printf "%sOPS_HOST" $svc.envPrefix }}: "0.0.0.0"
{{ printf "%sOPS_PORT" $svc.envPrefix }}: {{ $svc.opsPort | toString | quote }}
{{- range $svc.ports }}
{{ .env }}: {{ .port | toString | quote }}
{{- end }}
{{- range $name, $value := $svc.env }}
{{ $name }}: {{ include "tslib.envValue" $value }}
{{- end }}
{{- range $name, $peer := $svc.peers }}
{{ $name }}: {{ include "tslib.peerAddress" (dict "ctx" $.ctx "from" $.name "env" $name "peer" $peer) | quote }}
{{- end }}
{{- end -}}

{{/* another service's in-cluster address, <release>-<service>:<port>, from a `peers` entry:
(dict "ctx" $ "from" "gateway" "env" "GATEWAY_IDENTITY_ADDRESS" "peer" (dict "service" "identity" "port" "grpc")) */}}
{{- define "tslib.peerAddress" -}}
{{- $where := printf "services.%s.peers.%s" .from .env -}}
{{- $target := get .ctx.Values.services .peer.service -}}
{{- if not $target -}}
{{- fail (printf "%s: no service %q in services" $where .peer.service) -}}
{{- end -}}
{{- $port := 0 -}}
{{- range $target.ports -}}
{{- if eq .name $.peer.port -}}
{{- $port = .port -}}
{{- end -}}
{{- end -}}
{{- if not $port -}}
{{- fail (printf "%s: services.%s has no port named %q" $where .peer.service .peer.port) -}}
{{- end -}}
{{- printf "%s:%d" (include "tslib.componentName" (dict "ctx" .ctx "name" .peer.service)) (int $port) -}}
{{- end -}}

{{/* changes when the service's settings or those of the stores it uses change: pods roll */}}
{{- define "tslib.configChecksum" -}}
{{- $infra := list -}}
{{- range .svc.uses -}}
{{- $infra = append $infra (get $.ctx.Values .) -}}
{{- end -}}
{{- printf "%s\n%s" (include "tslib.configData" .) (toYaml $infra) | sha256sum -}}
{{- end -}}

{{- define "tslib.publicPorts" -}}
{{- range .svc.ports }}{{ if .public }}{{ .name }} {{ end }}{{ end -}}
{{- end -}}

{{- define "tslib.deployment" -}}
{{- $ctx := .ctx -}}
{{- $svc := .svc -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "tslib.componentName" . }}
  labels:
    {{- include "tslib.labels" . | nindent 4 }}
spec:
  {{- if not $svc.autoscaling.enabled }}
  replicas: {{ $svc.replicas }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "tslib.selectorLabels" . | nindent 6 }}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  template:
    metadata:
      labels:
        {{- include "tslib.labels" . | nindent 8 }}
      annotations:
        checksum/config: {{ include "tslib.configChecksum" . }}
        {{- with $svc.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "tslib.serviceAccountName" $ctx }}
      automountServiceAccountToken: false
      terminationGracePeriodSeconds: {{ $svc.terminationGracePeriodSeconds }}
      securityContext:
        {{- include "tslib.podSecurityContext" . | nindent 8 }}
      {{- with $ctx.Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      containers:
        - name: {{ .name }}
          image: {{ include "tslib.image" . | quote }}
          imagePullPolicy: {{ $ctx.Values.image.pullPolicy }}
          command: ["python", "-m", {{ $svc.module | quote }}]
          envFrom:
            - configMapRef:
                name: {{ include "tslib.componentName" . }}
            {{- range $svc.uses }}
            - configMapRef:
                name: {{ include "tslib.componentName" (dict "ctx" $ctx "name" .) }}
            {{- end }}
          {{- $secretEnv := dict }}
          {{- range $svc.uses }}
          {{- $secretEnv = merge $secretEnv (default dict (get $ctx.Values . ).secretEnv) }}
          {{- end }}
          {{- $secretEnv = merge $secretEnv (default dict $svc.secretEnv) }}
          {{- if or $secretEnv $svc.secretFiles $svc.extraEnv }}
          env:
            {{- include "tslib.secretEnv" (dict "ctx" $ctx "secretEnv" $secretEnv) | nindent 12 }}
            {{- range $svc.secretFiles }}
            - name: {{ .env }}
              value: {{ printf "/var/run/secrets/trackstream/%s" .key | quote }}
            {{- end }}
            {{- with $svc.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- end }}
          ports:
            - name: ops
              containerPort: {{ $svc.opsPort }}
              protocol: TCP
            {{- range $svc.ports }}
            - name: {{ .name }}
              containerPort: {{ .port }}
              protocol: TCP
            {{- end }}
          {{- include "tslib.probes" . | nindent 10 }}
          resources:
            {{- toYaml $svc.resources | nindent 12 }}
          securityContext:
            {{- include "tslib.containerSecurityContext" . | nindent 12 }}
          volumeMounts:
            {{- include "tslib.tmpVolumeMount" . | nindent 12 }}
            {{- if $svc.secretFiles }}
            - name: secret-files
              mountPath: /var/run/secrets/trackstream
              readOnly: true
            {{- end }}
      volumes:
        {{- include "tslib.tmpVolume" . | nindent 8 }}
        {{- if $svc.secretFiles }}
        - name: secret-files
          secret:
            secretName: {{ include "tslib.secretName" $ctx }}
            defaultMode: 0440
            items:
              {{- range $svc.secretFiles }}
              - key: {{ .key }}
                path: {{ .key }}
              {{- end }}
        {{- end }}
      {{- with $svc.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $svc.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $svc.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "tslib.selectorLabels" . | nindent 14 }}
{{- end -}}

{{/* in-cluster: the ops port (metrics) and every port that is not public */}}
{{- define "tslib.clusterService" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "tslib.componentName" . }}
  labels:
    {{- include "tslib.labels" . | nindent 4 }}
    trackstream.dev/metrics: "true"
spec:
  type: ClusterIP
  selector:
    {{- include "tslib.selectorLabels" . | nindent 4 }}
  ports:
    - name: ops
      port: {{ .svc.opsPort }}
      targetPort: ops
      protocol: TCP
    {{- range .svc.ports }}
    {{- if not .public }}
    - name: {{ .name }}
      port: {{ .port }}
      targetPort: {{ .name }}
      protocol: TCP
    {{- end }}
    {{- end }}
{{- end -}}

{{/* devices and clients from outside: a TCP load balancer on the public ports */}}
{{- define "tslib.publicService" -}}
{{- $public := .svc.publicService -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ printf "%s-public" (include "tslib.componentName" .) | trunc 63 | trimSuffix "-" }}
  labels:
    {{- include "tslib.labels" . | nindent 4 }}
  {{- with $public.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ $public.type }}
  {{- if ne $public.type "ClusterIP" }}
  externalTrafficPolicy: {{ $public.externalTrafficPolicy }}
  {{- end }}
  {{- with $public.loadBalancerSourceRanges }}
  loadBalancerSourceRanges:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  selector:
    {{- include "tslib.selectorLabels" . | nindent 4 }}
  ports:
    {{- range .svc.ports }}
    {{- if .public }}
    - name: {{ .name }}
      port: {{ .port }}
      targetPort: {{ .name }}
      protocol: TCP
    {{- end }}
    {{- end }}
{{- end -}}

{{/* HTTP ports marked `ingress: true` behind an Ingress (the gateway) */}}
{{- define "tslib.ingress" -}}
{{- $ing := .svc.ingress -}}
{{- $name := include "tslib.componentName" . -}}
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ $name }}
  labels:
    {{- include "tslib.labels" . | nindent 4 }}
  {{- with $ing.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  {{- with $ing.className }}
  ingressClassName: {{ . }}
  {{- end }}
  {{- if $ing.tlsSecretName }}
  tls:
    - secretName: {{ $ing.tlsSecretName }}
      {{- with $ing.host }}
      hosts: [{{ . | quote }}]
      {{- end }}
  {{- end }}
  rules:
    {{- if $ing.host }}
    - host: {{ $ing.host | quote }}
      http:
    {{- else }}
    # no host: every host
    - http:
    {{- end }}
        paths:
          {{- range .svc.ports }}
          {{- if .ingress }}
          - path: {{ default "/" .path }}
            pathType: Prefix
            backend:
              service:
                name: {{ $name }}
                port:
                  name: {{ .name }}
          {{- end }}
          {{- end }}
{{- end -}}

{{- define "tslib.hpa" -}}
{{- $as := .svc.autoscaling -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "tslib.componentName" . }}
  labels:
    {{- include "tslib.labels" . | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "tslib.componentName" . }}
  minReplicas: {{ $as.minReplicas }}
  maxReplicas: {{ $as.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $as.targetCPUUtilizationPercentage }}
  behavior:
    scaleDown:
      # a consumer group rebalances on every change: scale down slowly
      stabilizationWindowSeconds: 600
      policies:
        - type: Pods
          value: 1
          periodSeconds: 120
{{- end -}}

{{- define "tslib.pdb" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "tslib.componentName" . }}
  labels:
    {{- include "tslib.labels" . | nindent 4 }}
spec:
  maxUnavailable: {{ .svc.pdb.maxUnavailable }}
  selector:
    matchLabels:
      {{- include "tslib.selectorLabels" . | nindent 6 }}
{{- end -}}

{{/*
Who may connect: public ports from anywhere, ports behind the Ingress from the ingress controller,
internal ports from this release's pods (plus the service's extra peers), the ops port from the
monitoring namespaces. Egress stays open: Kafka, Cassandra and S3 are external and their
addresses are the operator's.
*/}}
{{- define "tslib.networkPolicy" -}}
{{- $ctx := .ctx -}}
{{- $np := $ctx.Values.networkPolicy -}}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "tslib.componentName" . }}
  labels:
    {{- include "tslib.labels" . | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "tslib.selectorLabels" . | nindent 6 }}
  policyTypes: ["Ingress"]
  ingress:
    - ports:
        - {port: ops, protocol: TCP}
      from:
        {{- toYaml $np.metricsFrom | nindent 8 }}
    {{- range .svc.ports }}
    {{- if .public }}
    - ports:
        - {port: {{ .name }}, protocol: TCP}
    {{- else if .ingress }}
    - ports:
        - {port: {{ .name }}, protocol: TCP}
      from:
        {{- toYaml $np.ingressControllerFrom | nindent 8 }}
    {{- else }}
    - ports:
        - {port: {{ .name }}, protocol: TCP}
      from:
        - podSelector:
            matchLabels:
              app.kubernetes.io/part-of: trackstream
              app.kubernetes.io/instance: {{ $ctx.Release.Name }}
        {{- with .from }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    {{- end }}
    {{- end }}
{{- end -}}

{{- define "tslib.serviceMonitor" -}}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "tslib.componentName" . }}
  labels:
    {{- include "tslib.labels" . | nindent 4 }}
    {{- with .ctx.Values.serviceMonitor.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "tslib.selectorLabels" . | nindent 6 }}
      trackstream.dev/metrics: "true"
  endpoints:
    - port: ops
      path: /metrics
      interval: {{ .ctx.Values.serviceMonitor.interval }}
{{- end -}}
