// Renders .env.example from the schema; test/unit/config.spec.ts fails when
// the committed file and the schema disagree (`npm run env:example` rewrites it).
import { SCHEMA, envName, type KeyDef } from './schema.js';

function defaultText(def: KeyDef<unknown>): string {
  if (def.defaultText !== undefined) return def.defaultText;
  if (def.default === undefined) return 'unset';
  if (Array.isArray(def.default)) return def.default.length > 0 ? def.default.join(',') : 'none';
  return String(def.default);
}

/** The standard OpenTelemetry variables that tracing reads (src/config/tracing.ts; README "Tracing"). */
const TRACING = [
  '# Tracing (README "Tracing"): the standard OpenTelemetry variables, read from the environment only.',
  '# Off, and the SDK not loaded, unless OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_ENDPOINT or',
  '# OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set; OTEL_SDK_DISABLED=true keeps it off.',
  '# OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318',
  '# OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=',
  '# OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf',
  '# OTEL_EXPORTER_OTLP_HEADERS=',
  '# OTEL_TRACES_EXPORTER=otlp',
  '# OTEL_SERVICE_NAME=registrar',
  '# OTEL_RESOURCE_ATTRIBUTES=',
  '# OTEL_TRACES_SAMPLER=parentbased_always_on',
  '# OTEL_TRACES_SAMPLER_ARG=',
  '# OTEL_PROPAGATORS=tracecontext,baggage',
  '# OTEL_LOG_LEVEL=warn',
  '# OTEL_SDK_DISABLED=false',
];

export function renderEnvExample(): string {
  const lines = [
    '# Registrar configuration. Every key can be set here as an environment variable,',
    '# or in a YAML file named by CONFIG_FILE (nested by the dots of the key name);',
    '# environment variables win over the file, the file over the defaults.',
    '# Lists: comma-separated or a JSON array. Durations: seconds or 90s, 15m, 1h30m, 7d.',
    '# Booleans: true/false/1/0. NODE_ENV=production requires DSN, SECRETS_SYSTEM and ADMIN_API_KEYS.',
    '',
    '# CONFIG_FILE=./registrar.yaml',
    '# NODE_ENV=development',
  ];
  for (const [key, def] of Object.entries(SCHEMA) as [string, KeyDef<unknown>][]) {
    const aliases = def.aliases?.length ? ` (also ${def.aliases.join(', ')})` : '';
    lines.push('', `# ${key}${aliases}: ${def.doc}. Default: ${defaultText(def)}.`);
    const fixed = def.default !== undefined && def.defaultText === undefined && !(Array.isArray(def.default) && def.default.length === 0);
    const value = fixed ? defaultText(def) : '';
    lines.push(`# ${envName(key)}=${value}`);
  }
  lines.push('', ...TRACING);
  return lines.join('\n') + '\n';
}

/** The Helm chart's values schema (charts/registrar/values.schema.json) with the environment names it accepts under `env` set from the schema. */
export function withChartEnvNames(valuesSchema: string): string {
  const doc = JSON.parse(valuesSchema) as { properties: { env: { propertyNames: { anyOf: Array<{ enum?: string[] }> } } } };
  doc.properties.env.propertyNames.anyOf[0].enum = Object.keys(SCHEMA).map(envName);
  return JSON.stringify(doc, null, 2) + '\n';
}
