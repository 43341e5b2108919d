{{/* Names, labels and the pieces every hypha-accel container shares. */}}
{{- define "hypha-accel.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hypha-accel.fullname" -}}
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

{{- define "hypha-accel.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "hypha-accel.labels" -}}
helm.sh/chart: {{ include "hypha-accel.chart" . }}
{{ include "hypha-accel.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "hypha-accel.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hypha-accel.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "hypha-accel.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "hypha-accel.secretName" -}}
{{- default (printf "%s-link" (include "hypha-accel.fullname" .)) .Values.linkSecret.existingSecret }}
{{- end }}

{{- define "hypha-accel.gatewayUrl" -}}
{{- if hasKey .Values.edge.config "gatewayUrl" }}
{{- .Values.edge.config.gatewayUrl }}
{{- else if .Values.gateway.enabled }}
{{- printf "tcp://%s-gateway.%s.svc:%d" (include "hypha-accel.fullname" .) .Release.Namespace (int .Values.gateway.port) }}
{{- else }}
{{- fail "edge.config.gatewayUrl is required when gateway.enabled is false (e.g. wss://hypha.example.org)" }}
{{- end }}
{{- end }}

{{/*
Edge defaults the chart derives: the gateway URL and, for the in-cluster default (tcp:// to this release's
gateway Service, plain text inside the cluster network), an explicit allowInsecureLink: a plain-text link to
a non-loopback address is refused otherwise. Set edge.config.gatewayUrl to tls://... (gateway.config
tlsCertFile/tlsKeyFile) to encrypt the in-cluster hop; see docs/security.md.
*/}}
{{- define "hypha-accel.edgeExtra" -}}
{{- $extra := dict "gatewayUrl" (include "hypha-accel.gatewayUrl" .) }}
{{- if not (hasKey .Values.edge.config "gatewayUrl") }}{{ $_ := set $extra "allowInsecureLink" "true" }}{{ end }}
{{- toYaml $extra }}
{{- end }}

{{/* Seconds the kubelet waits after SIGTERM: the preStop pause, the drain deadline, 5 s of margin. */}}
{{- define "hypha-accel.gracePeriodSeconds" -}}
{{- $drainMs := int (dig "drainTimeoutMs" 10000 .config) }}
{{- add .root.Values.preStopSleepSeconds (div (add $drainMs 999) 1000) 5 }}
{{- end }}

{{/*
HYPHA_ACCEL_* variables: the chart-owned ones, then every key of `config` (YAML key -> HYPHA_ACCEL_SNAKE_CASE).
Whole numbers are printed as integers (YAML numbers arrive as floats and would print as 2.68435456e+08).
dict: root, role, config, listen, extra (defaults the chart derives, by YAML key; config wins)
*/}}
{{- define "hypha-accel.env" -}}
{{- $settings := merge (dict) .config .extra }}
{{- $_ := set $settings "listen" .listen }}
{{- $_ := set $settings "secretFile" (printf "/etc/hypha-accel/link/%s" .root.Values.linkSecret.key) }}
{{- $_ := set $settings "adminListen" (printf "0.0.0.0:%d" (int .root.Values.admin.port)) }}
{{- range $key, $value := $settings }}
- name: HYPHA_ACCEL_{{ $key | snakecase | upper }}
  {{- if and (kindIs "float64" $value) (eq $value (floor $value)) }}
  value: {{ $value | int64 | toString | quote }}
  {{- else }}
  value: {{ $value | toString | quote }}
  {{- end }}
{{- end }}
- name: POD_NAME
  valueFrom: {fieldRef: {fieldPath: metadata.name}}
- name: POD_NAMESPACE
  valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
{{- with .root.Values.otel }}
{{- if .enabled }}
- name: OTEL_SERVICE_NAME
  value: {{ printf "hypha-accel-%s" $.role | quote }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ required "otel.endpoint is required when otel.enabled" .endpoint | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ .protocol | quote }}
{{- if .sampler }}
- name: OTEL_TRACES_SAMPLER
  value: {{ .sampler | quote }}
{{- end }}
{{- if .samplerArg }}
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ .samplerArg | quote }}
{{- end }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "k8s.pod.name=$(POD_NAME),k8s.namespace.name=$(POD_NAMESPACE)%s" (ternary (printf ",%s" .resourceAttributes) "" (ne .resourceAttributes "")) | quote }}
{{- else }}
- name: OTEL_SDK_DISABLED
  value: "true"
{{- end }}
{{- end }}
{{- end }}

{{/* Probes, lifecycle, security and mounts of a hypha-accel container. dict: root */}}
{{- define "hypha-accel.containerCommon" -}}
image: {{ include "hypha-accel.image" .root | quote }}
imagePullPolicy: {{ .root.Values.image.pullPolicy }}
readinessProbe:
  httpGet: {path: /ready, port: admin}
  periodSeconds: 5
  failureThreshold: 2
livenessProbe:
  httpGet: {path: /live, port: admin}
  periodSeconds: 10
  failureThreshold: 3
lifecycle:
  preStop:
    sleep: {seconds: {{ .root.Values.preStopSleepSeconds }}}
securityContext:
  {{- toYaml .root.Values.securityContext | nindent 2 }}
{{- end }}

{{- define "hypha-accel.secretVolume" -}}
- name: link-secret
  secret:
    secretName: {{ include "hypha-accel.secretName" . }}
    defaultMode: 0440
    items:
      - {key: {{ .Values.linkSecret.key }}, path: {{ .Values.linkSecret.key }}}
{{- end }}

{{/*
The edge as a native sidecar: paste into initContainers of any pod (Kubernetes >= 1.29), or include it
from a chart that depends on this one: {{ include "hypha-accel.edgeSidecar" (dict "root" .) }}.
The pod needs the link-secret volume ({{ include "hypha-accel.secretVolume" . }}).
*/}}
{{- define "hypha-accel.edgeSidecar" -}}
- name: hypha-accel-edge
  restartPolicy: Always
  {{- include "hypha-accel.containerCommon" . | nindent 2 }}
  startupProbe:
    httpGet: {path: /ready, port: admin}
    periodSeconds: {{ .root.Values.edge.startupProbe.periodSeconds }}
    failureThreshold: {{ .root.Values.edge.startupProbe.failureThreshold }}
  args: ["edge"]
  ports:
    - {name: admin, containerPort: {{ .root.Values.admin.port }}, protocol: TCP}
  env:
    {{- include "hypha-accel.env" (dict "root" .root "role" "edge" "config" .root.Values.edge.config "listen" (printf "127.0.0.1:%d" (int .root.Values.edge.port)) "extra" (include "hypha-accel.edgeExtra" .root | fromYaml)) | trim | nindent 4 }}
  resources:
    {{- toYaml .root.Values.edge.resources | nindent 4 }}
  volumeMounts:
    - {name: link-secret, mountPath: /etc/hypha-accel/link, readOnly: true}
{{- end }}

{{/* The node-local memory directory shared by the DaemonSet's edges and a gateway on the same node. */}}
{{- define "hypha-accel.shmEnabled" -}}
{{- if and .Values.edgeDaemonSet.enabled .Values.edgeDaemonSet.shmHostPath }}true{{ end }}
{{- end }}

{{- define "hypha-accel.shmDir" -}}
{{- printf "/var/run/hypha-accel-shm/hypha-accel-%d" (int .Values.securityContext.runAsUser) }}
{{- end }}
