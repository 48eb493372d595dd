{{/* The release's name, or release-chart when the release name does not contain the chart's (Helm's convention). */}}
{{- define "prescale.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "prescale.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "prescale.labels" -}}
{{ include "prescale.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: prescale
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The one place that says which endpoint was chosen; anything else is an error naming the value. */}}
{{- define "prescale.endpoint" -}}
{{- $e := .Values.metrics.endpoint -}}
{{- if not (has $e (list "apiservice" "keda")) -}}
{{- fail (printf "metrics.endpoint must be apiservice or keda, %q given" (toString $e)) -}}
{{- end -}}
{{- $e -}}
{{- end -}}

{{- define "prescale.leaderElection" -}}
{{- if gt (int .Values.replicas) 1 }}true{{ else }}false{{ end -}}
{{- end -}}

{{/*
The prescale config (src/config/schema.ts), rendered from the values. Paths are where the Deployment mounts
the files; the Lease lives in the release's namespace, where the leader-election Role grants it.
*/}}
{{- define "prescale.config" -}}
{{- $endpoint := include "prescale.endpoint" . -}}
{{- $c := .Values.config -}}
dryRun: {{ $c.dryRun }}
aws:
  {{- toYaml $c.aws | nindent 2 }}
http:
  host: 0.0.0.0
  port: 8080
metricsApi:
{{- if eq $endpoint "apiservice" }}
  enabled: true
  host: 0.0.0.0
  port: 6443
  certFile: /var/run/prescale/serving-cert/tls.crt
  keyFile: /var/run/prescale/serving-cert/tls.key
  # The request-header CA and allowed names come from kube-system/extension-apiserver-authentication.
  fromConfigMap: true
{{- else }}
  enabled: false
{{- end }}
  staleAfterSeconds: {{ int .Values.metrics.staleAfterSeconds }}
  stale: {{ .Values.metrics.stale }}
keda:
  enabled: {{ eq $endpoint "keda" }}
{{- if and (eq $endpoint "keda") .Values.metrics.keda.tokenSecret }}
  tokenFile: /var/run/prescale/keda-token/token
{{- end }}
leaderElection:
  enabled: {{ include "prescale.leaderElection" . }}
  namespace: {{ .Release.Namespace }}
  leaseName: {{ $c.leaderElection.leaseName }}
  leaseDurationSeconds: {{ int $c.leaderElection.leaseDurationSeconds }}
schedule:
  {{- toYaml $c.schedule | nindent 2 }}
modelsDir: /var/lib/prescale/models
controller:
  {{- toYaml (merge (dict "enabled" true) (deepCopy $c.controller)) | nindent 2 }}
targets: {{- toYaml .Values.targets | nindent 2 }}
{{- end -}}
