// Builds the validated configuration from defaults, an optional YAML file
// (CONFIG_FILE) and environment variables, in that order of precedence.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { ParseError } from './parsers.js';
import { SCHEMA, envName, type ConfigKey, type ConfigValues, type KeyDef } from './schema.js';

export class ConfigError extends Error {}

/** Shortest system secret or admin key production accepts (32 characters, e.g. 24 random bytes in base64). */
const MIN_SECRET_LENGTH = 32;

export interface ResolvedConfig {
  values: ConfigValues;
  production: boolean;
  /** Set when the admin key was generated for development and should be shown at start. */
  generatedAdminKey?: string;
}

type Env = Record<string, string | undefined>;

function describe(value: unknown, def: KeyDef<unknown>): string {
  if (def.secret) return '(hidden)';
  return typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
}

function parseKey(k: ConfigKey, raw: unknown, source: string): unknown {
  const def = SCHEMA[k] as KeyDef<unknown>;
  try {
    return def.parse(raw);
  } catch (err) {
    if (!(err instanceof ParseError)) throw err;
    throw new ConfigError(`invalid configuration: ${k} (${source}) must be ${err.expected}; found ${describe(raw, def)}`);
  }
}

/** Reads a nested YAML document into flat dotted keys; unknown keys are refused so typos surface. */
function readYaml(file: string): Map<ConfigKey, unknown> {
  let doc: unknown;
  try {
    // The YAML parser is loaded only when a CONFIG_FILE is given (README "Memory"); configuration is read
    // synchronously, so it is required rather than imported.
    const { parse } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
    doc = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read CONFIG_FILE ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  const out = new Map<ConfigKey, unknown>();
  if (doc === null || doc === undefined) return out;
  const walk = (node: unknown, prefix: string): void => {
    if (prefix in SCHEMA) {
      out.set(prefix as ConfigKey, node);
      return;
    }
    if (node === null || typeof node !== 'object' || Array.isArray(node)) {
      throw new ConfigError(`unknown configuration key ${prefix} in ${file}`);
    }
    for (const [name, child] of Object.entries(node)) walk(child, prefix ? `${prefix}.${name}` : name);
  };
  walk(doc, '');
  return out;
}

function fromEnv(env: Env, k: ConfigKey): { raw: string; name: string } | undefined {
  const def = SCHEMA[k] as KeyDef<unknown>;
  for (const name of [envName(k), ...(def.aliases ?? [])]) {
    const raw = env[name];
    if (raw !== undefined && raw !== '') return { raw, name };
  }
  return undefined;
}

interface DevSecrets {
  system: string[];
  admin_api_key: string;
}

/** Development secrets are generated once and kept beside the embedded database. */
function devSecrets(dataDir: string): DevSecrets {
  const file = join(resolve(dataDir), 'secrets.json');
  if (existsSync(file)) {
    try {
      const parsed = JSON.parse(readFileSync(file, 'utf8')) as DevSecrets;
      if (Array.isArray(parsed.system) && parsed.system.length > 0 && typeof parsed.admin_api_key === 'string') {
        return parsed;
      }
    } catch {
      // unreadable: fall through and refuse below rather than silently replacing secrets
    }
    throw new ConfigError(`${file} is not a valid secrets file; fix or remove it`);
  }
  const generated: DevSecrets = {
    system: [randomBytes(32).toString('base64url')],
    admin_api_key: `adm_${randomBytes(32).toString('base64url')}`,
  };
  mkdirSync(resolve(dataDir), { recursive: true, mode: 0o700 });
  writeFileSync(file, JSON.stringify(generated, null, 2) + '\n', { mode: 0o600 });
  return generated;
}

/**
 * Production needs the issuer spelled out, and https (RFC 8414 §2, OIDC Discovery
 * §3): the issuer is the base of every URL a client is given, and on http the
 * session cookies travel without the Secure flag.
 */
function assertProductionIssuer(values: Record<ConfigKey, unknown>): void {
  const issuer = values['urls.self.issuer'] as string | undefined;
  if (issuer === undefined) {
    throw new ConfigError('NODE_ENV=production requires urls.self.issuer (env URLS_SELF_ISSUER), an https URL; refusing to start');
  }
  if (!issuer.startsWith('https:') && values['urls.self.allow_insecure_issuer'] !== true) {
    throw new ConfigError(
      `NODE_ENV=production requires an https urls.self.issuer (env URLS_SELF_ISSUER); found ${JSON.stringify(issuer)}. ` +
        'Set urls.self.allow_insecure_issuer=true (env URLS_SELF_ALLOW_INSECURE_ISSUER) to accept http; refusing to start',
    );
  }
}

export function loadConfig(env: Env = process.env): ResolvedConfig {
  const values = {} as Record<ConfigKey, unknown>;
  const yaml = env.CONFIG_FILE ? readYaml(env.CONFIG_FILE) : new Map<ConfigKey, unknown>();
  for (const k of Object.keys(SCHEMA) as ConfigKey[]) {
    const fromEnvironment = fromEnv(env, k);
    if (fromEnvironment) values[k] = parseKey(k, fromEnvironment.raw, `env ${fromEnvironment.name}`);
    else if (yaml.has(k)) values[k] = parseKey(k, yaml.get(k), `CONFIG_FILE ${env.CONFIG_FILE}`);
    else values[k] = SCHEMA[k].default;
  }

  const production = env.NODE_ENV === 'production';
  const resolved: ResolvedConfig = { values: values as ConfigValues, production };
  const missing = (['dsn', 'secrets.system', 'admin.api_keys'] as const).filter((k) => {
    const v = values[k];
    return v === undefined || (Array.isArray(v) && v.length === 0);
  });
  if (production && missing.length > 0) {
    throw new ConfigError(
      `NODE_ENV=production requires ${missing.join(', ')} (env ${missing.map(envName).join(', ')}); refusing to start`,
    );
  }
  if (production) {
    for (const k of ['secrets.system', 'admin.api_keys'] as const) {
      const weak = (values[k] as string[]).findIndex((v) => v.length < MIN_SECRET_LENGTH);
      if (weak >= 0) {
        throw new ConfigError(
          `NODE_ENV=production refuses weak ${k} (env ${envName(k)}): entry ${weak + 1} has fewer than ${MIN_SECRET_LENGTH} characters`,
        );
      }
    }
  }
  if (production) {
    // An HMAC key a receiver could guess would let anyone forge events (README "Audit events").
    const weak = (values['audit.webhooks'] as Array<{ secret: string }>).findIndex((w) => w.secret.length < MIN_SECRET_LENGTH);
    if (weak >= 0) {
      throw new ConfigError(
        `NODE_ENV=production refuses weak audit.webhooks (env ${envName('audit.webhooks')}): the secret of entry ${weak + 1} has fewer than ${MIN_SECRET_LENGTH} characters`,
      );
    }
  }
  if (production && values['oauth2.authorization_code.enabled']) {
    const unset = (['urls.login', 'urls.consent'] as const).filter((k) => values[k] === undefined);
    if (unset.length > 0) {
      throw new ConfigError(
        `NODE_ENV=production requires ${unset.join(', ')} (env ${unset.map(envName).join(', ')}) while oauth2.authorization_code.enabled is true; refusing to start`,
      );
    }
  }
  if (production) assertProductionIssuer(values);
  if (missing.includes('secrets.system') || missing.includes('admin.api_keys')) {
    const dev = devSecrets(values.data_dir as string);
    if (missing.includes('secrets.system')) values['secrets.system'] = dev.system;
    if (missing.includes('admin.api_keys')) {
      values['admin.api_keys'] = [dev.admin_api_key];
      resolved.generatedAdminKey = dev.admin_api_key;
    }
  }
  // Outside production the development pages sign anyone in and the admin key is
  // printed, so only this machine is served unless an interface is named.
  const defaultHost = production ? '0.0.0.0' : '127.0.0.1';
  for (const k of ['serve.public.host', 'serve.admin.host'] as const) values[k] ??= defaultHost;
  if (values['serve.admin.port'] !== undefined && values['serve.admin.port'] === values['serve.public.port']) {
    throw new ConfigError(
      `serve.admin.port (env ${envName('serve.admin.port')}) must differ from serve.public.port; both are ${values['serve.public.port']}`,
    );
  }
  const minTtl = values['oidc.client_id_metadata_document.cache.min_ttl'] as number;
  const maxTtl = values['oidc.client_id_metadata_document.cache.max_ttl'] as number;
  if (minTtl > maxTtl) {
    throw new ConfigError(
      `oidc.client_id_metadata_document.cache.min_ttl (${minTtl}s) must not exceed oidc.client_id_metadata_document.cache.max_ttl (${maxTtl}s)`,
    );
  }
  if (values['urls.self.issuer'] === undefined) {
    values['urls.self.issuer'] = `http://127.0.0.1:${values['serve.public.port']}`;
  }
  return resolved;
}
