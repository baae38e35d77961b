// Renders .env.example from the schema; test/unit/config.spec.ts fails when
// the committed file and the schema disagree (`npm run env:example` rewrites it).
import { SCHEMA, envName, type KeyDef } from './schema.js';

function defaultText(def: KeyDef<unknown>): string {
  if (def.defaultText !== undefined) return def.defaultText;
  if (def.default === undefined) return 'unset';
  if (Array.isArray(def.default)) return def.default.length > 0 ? def.default.join(',') : 'none';
  return String(def.default);
}

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
  return lines.join('\n') + '\n';
}

/** The Helm chart's values schema (charts/registrar/values.schema.json) with the environment names it accepts under `env` set from the schema. */
export function withChartEnvNames(valuesSchema: string): string {
  const doc = JSON.parse(valuesSchema) as { properties: { env: { propertyNames: { anyOf: Array<{ enum?: string[] }> } } } };
  doc.properties.env.propertyNames.anyOf[0].enum = Object.keys(SCHEMA).map(envName);
  return JSON.stringify(doc, null, 2) + '\n';
}
