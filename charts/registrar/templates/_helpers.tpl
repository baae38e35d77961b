{{/* Names and labels shared by every manifest of the chart. */}}
{{- define "registrar.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "registrar.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "registrar.selectorLabels" -}}
app.kubernetes.io/name: {{ include "registrar.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "registrar.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "registrar.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "registrar.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{- define "registrar.secretName" -}}
{{- .Values.secrets.existingSecret | default (include "registrar.fullname" .) }}
{{- end }}

{{- define "registrar.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- .Values.serviceAccount.name | default (include "registrar.fullname" .) }}
{{- else }}
{{- .Values.serviceAccount.name | default "default" }}
{{- end }}
{{- end }}

{{/* Whether the authorization code flow is on (the service's default is true). */}}
{{- define "registrar.codeFlow" -}}
{{- $v := index .Values.env "OAUTH2_AUTHORIZATION_CODE_ENABLED" | default "true" | toString | lower }}
{{- if or (eq $v "false") (eq $v "0") }}false{{ else }}true{{ end }}
{{- end }}

{{/*
The service's environment, the same for the pods and the migration Job, so that
both read the configuration the same way (NODE_ENV=production checks it at start).
*/}}
{{- define "registrar.env" -}}
- name: NODE_ENV
  value: production
- name: SERVE_PUBLIC_HOST
  value: 0.0.0.0
- name: SERVE_PUBLIC_PORT
  value: {{ .Values.service.port | quote }}
{{- if .Values.admin.enabled }}
- name: SERVE_ADMIN_HOST
  value: 0.0.0.0
- name: SERVE_ADMIN_PORT
  value: {{ .Values.admin.port | quote }}
{{- end }}
- name: URLS_SELF_ISSUER
  value: {{ required "issuer is required: the https URL clients are given (values.yaml)" .Values.issuer | quote }}
{{- if eq (include "registrar.codeFlow" .) "true" }}
- name: URLS_LOGIN
  value: {{ required "urls.login is required while the authorization code flow is on (or set env.OAUTH2_AUTHORIZATION_CODE_ENABLED: \"false\")" .Values.urls.login | quote }}
- name: URLS_CONSENT
  value: {{ required "urls.consent is required while the authorization code flow is on (or set env.OAUTH2_AUTHORIZATION_CODE_ENABLED: \"false\")" .Values.urls.consent | quote }}
{{- end }}
{{- if .Values.migration.enabled }}
- name: DATABASE_MIGRATE_ON_START
  value: "false"
{{- end }}
- name: SERVE_SHUTDOWN_DELAY
  value: {{ .Values.shutdown.delay | quote }}
- name: SERVE_SHUTDOWN_TIMEOUT
  value: {{ .Values.shutdown.timeout | quote }}
{{- range $name := list "DSN" "SECRETS_SYSTEM" "ADMIN_API_KEYS" }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "registrar.secretName" $ }}
      key: {{ $name }}
{{- end }}
{{- range $name, $value := .Values.env }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end }}
