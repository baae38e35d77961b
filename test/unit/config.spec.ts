import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { ConfigService as NestConfigService } from '@nestjs/config';
import { ConfigService, RESOLVED_CONFIG } from '../../src/config/config.service.js';
import { ConfigError, loadConfig, type ResolvedConfig } from '../../src/config/load-config.js';
import { renderEnvExample, withChartEnvNames } from '../../src/config/env-example.js';
import { SCHEMA, envName } from '../../src/config/schema.js';

const SECRETS = { SECRETS_SYSTEM: 's1', ADMIN_API_KEYS: 'k1' };
const APPS = { URLS_LOGIN: 'https://login.example.com/login', URLS_CONSENT: 'https://login.example.com/consent' };
/** What production needs besides the apps: a database, strong secrets and an https issuer. */
const PRODUCTION = { NODE_ENV: 'production', DSN: 'postgres://h/db', SECRETS_SYSTEM: 's'.repeat(32), ADMIN_API_KEYS: 'k'.repeat(32), URLS_SELF_ISSUER: 'https://auth.example.com' };

/** Nest's ConfigService holding a resolved configuration, as ConfigModule provides it. */
function nestConfig(resolved: ResolvedConfig): NestConfigService {
  return new NestConfigService({ [RESOLVED_CONFIG]: resolved });
}

function errorOf(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected loadConfig to fail');
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'registrar-config-'));
}

describe('configuration', () => {
  it('applies the documented defaults', () => {
    const { values } = loadConfig(SECRETS);
    expect(values['serve.public.port']).toBe(4444);
    expect(values['urls.self.issuer']).toBe('http://127.0.0.1:4444');
    expect(values['strategies.access_token']).toBe('opaque');
    expect(values['oidc.dynamic_client_registration.strategies.access_token']).toBeUndefined();
    expect(values['ttl.access_token']).toBe(3600);
    expect(values.dsn).toBeUndefined();
  });

  it('names the environment variable of a key by upper-casing it and replacing dots', () => {
    expect(envName('oidc.dynamic_client_registration.strategies.access_token')).toBe(
      'OIDC_DYNAMIC_CLIENT_REGISTRATION_STRATEGIES_ACCESS_TOKEN',
    );
    const { values } = loadConfig({ ...SECRETS, OIDC_DYNAMIC_CLIENT_REGISTRATION_STRATEGIES_ACCESS_TOKEN: 'jwt' });
    expect(values['oidc.dynamic_client_registration.strategies.access_token']).toBe('jwt');
  });

  it('accepts PORT, DATABASE_URL and DATA_DIR as aliases, with the canonical name winning', () => {
    const { values } = loadConfig({ ...SECRETS, PORT: '5000', DATABASE_URL: 'postgres://a@h/db', DATA_DIR: '/tmp/x' });
    expect(values['serve.public.port']).toBe(5000);
    expect(values['urls.self.issuer']).toBe('http://127.0.0.1:5000');
    expect(values.dsn).toBe('postgres://a@h/db');
    expect(values.data_dir).toBe('/tmp/x');
    expect(loadConfig({ ...SECRETS, PORT: '5000', SERVE_PUBLIC_PORT: '6000' }).values['serve.public.port']).toBe(6000);
  });

  it('parses lists as comma-separated or JSON arrays, durations and booleans', () => {
    expect(loadConfig({ SECRETS_SYSTEM: 'a, b', ADMIN_API_KEYS: '["x","y"]' }).values['admin.api_keys']).toEqual(['x', 'y']);
    expect(loadConfig({ SECRETS_SYSTEM: 'a, b', ADMIN_API_KEYS: 'k' }).values['secrets.system']).toEqual(['a', 'b']);
    for (const [raw, seconds] of [['90', 90], ['90s', 90], ['15m', 900], ['1h30m', 5400], ['7d', 604800]] as const) {
      expect(loadConfig({ ...SECRETS, TTL_ACCESS_TOKEN: raw }).values['ttl.access_token']).toBe(seconds);
    }
    for (const [raw, value] of [['true', true], ['1', true], ['false', false], ['0', false]] as const) {
      expect(loadConfig({ ...SECRETS, OIDC_DYNAMIC_CLIENT_REGISTRATION_ENABLED: raw }).values['oidc.dynamic_client_registration.enabled']).toBe(value);
    }
  });

  it('reads a nested YAML file named by CONFIG_FILE, and environment variables win over it', () => {
    const dir = tempDir();
    const file = join(dir, 'registrar.yaml');
    writeFileSync(
      file,
      'strategies:\n  access_token: jwt\noidc:\n  dynamic_client_registration:\n    strategies:\n      access_token: opaque\nadmin:\n  api_keys: [a, b]\nsecrets:\n  system: [s]\nttl:\n  access_token: 15m\n',
    );
    const { values } = loadConfig({ CONFIG_FILE: file, TTL_ACCESS_TOKEN: '60' });
    expect(values['strategies.access_token']).toBe('jwt');
    expect(values['oidc.dynamic_client_registration.strategies.access_token']).toBe('opaque');
    expect(values['admin.api_keys']).toEqual(['a', 'b']);
    expect(values['ttl.access_token']).toBe(60);
  });

  it('refuses an unknown key in the YAML file so that typos surface', () => {
    const file = join(tempDir(), 'c.yaml');
    writeFileSync(file, 'strategies:\n  acces_token: jwt\n');
    expect(errorOf({ ...SECRETS, CONFIG_FILE: file })).toContain('strategies.acces_token');
  });

  it('names the key, the allowed values and the value found for an invalid strategy', () => {
    const message = errorOf({ ...SECRETS, OIDC_DYNAMIC_CLIENT_REGISTRATION_STRATEGIES_ACCESS_TOKEN: 'jwe' });
    expect(message).toContain('oidc.dynamic_client_registration.strategies.access_token');
    expect(message).toContain('opaque, jwt');
    expect(message).toContain('"jwe"');
    expect(message).not.toContain('\n');
  });

  it('refuses malformed numbers, durations, booleans and URLs', () => {
    expect(errorOf({ ...SECRETS, PORT: '80a' })).toContain('serve.public.port');
    expect(errorOf({ ...SECRETS, PORT: '70000' })).toContain('an integer from 1 to 65535');
    expect(errorOf({ ...SECRETS, TTL_ACCESS_TOKEN: '1 hour' })).toContain('ttl.access_token');
    expect(errorOf({ ...SECRETS, TTL_ACCESS_TOKEN: '0' })).toContain('greater than zero');
    expect(errorOf({ ...SECRETS, OIDC_DYNAMIC_CLIENT_REGISTRATION_ENABLED: 'yes' })).toContain('true, false, 1 or 0');
    expect(errorOf({ ...SECRETS, URLS_SELF_ISSUER: 'ftp://x' })).toContain('urls.self.issuer');
    expect(errorOf({ ...SECRETS, DSN: 'mysql://x' })).toContain('postgres://');
  });

  it('never prints a secret value in an error', () => {
    const message = errorOf({ ...SECRETS, DATABASE_URL: 'mysql://user:hunter2@db/x' });
    expect(message).not.toContain('hunter2');
  });

  it('listens only on 127.0.0.1 by default outside production, on every interface in production, and a named host wins', () => {
    const dev = loadConfig(SECRETS).values;
    expect([dev['serve.public.host'], dev['serve.admin.host']]).toEqual(['127.0.0.1', '127.0.0.1']);
    expect(dev['serve.admin.port']).toBeUndefined();
    const prod = loadConfig({ ...PRODUCTION, ...APPS }).values;
    expect([prod['serve.public.host'], prod['serve.admin.host']]).toEqual(['0.0.0.0', '0.0.0.0']);
    const named = loadConfig({ ...SECRETS, SERVE_PUBLIC_HOST: '0.0.0.0', SERVE_ADMIN_HOST: '::1' }).values;
    expect([named['serve.public.host'], named['serve.admin.host']]).toEqual(['0.0.0.0', '::1']);
  });

  it('serves docs and metrics by default, and refuses an admin port equal to the public one', () => {
    const { values } = loadConfig(SECRETS);
    expect([values['serve.docs.enabled'], values['metrics.enabled']]).toEqual([true, true]);
    expect(loadConfig({ ...SECRETS, SERVE_ADMIN_PORT: '4445' }).values['serve.admin.port']).toBe(4445);
    expect(errorOf({ ...SECRETS, SERVE_ADMIN_PORT: '4444' })).toContain('serve.admin.port');
  });

  it('refuses to start in production without dsn, secrets.system and admin.api_keys', () => {
    const message = errorOf({ NODE_ENV: 'production' });
    expect(message).toContain('dsn');
    expect(message).toContain('secrets.system');
    expect(message).toContain('admin.api_keys');
    const strong = { SECRETS_SYSTEM: 's'.repeat(32), ADMIN_API_KEYS: 'k'.repeat(32), URLS_SELF_ISSUER: 'https://auth.example.com', ...APPS };
    expect(() => loadConfig({ NODE_ENV: 'production', DSN: 'postgres://h/db', ...strong })).not.toThrow();
  });

  it('refuses to start in production without a login and consent app while the authorization code flow is on', () => {
    const base = { NODE_ENV: 'production', DSN: 'postgres://h/db', SECRETS_SYSTEM: 's'.repeat(32), ADMIN_API_KEYS: 'k'.repeat(32), URLS_SELF_ISSUER: 'https://auth.example.com' };
    const message = errorOf(base);
    expect(message).toContain('urls.login, urls.consent');
    expect(message).toContain('URLS_LOGIN');
    expect(errorOf({ ...base, URLS_LOGIN: APPS.URLS_LOGIN })).toContain('requires urls.consent ');
    expect(() => loadConfig({ ...base, OAUTH2_AUTHORIZATION_CODE_ENABLED: 'false' })).not.toThrow();
    expect(() => loadConfig({ ...base, ...APPS })).not.toThrow();
  });

  it('refuses to start in production without an explicit https issuer, unless http is allowed by name', () => {
    const { URLS_SELF_ISSUER: _issuer, ...withoutIssuer } = PRODUCTION;
    const unset = errorOf({ ...withoutIssuer, ...APPS });
    expect(unset).toContain('requires urls.self.issuer (env URLS_SELF_ISSUER)');
    const http = errorOf({ ...PRODUCTION, ...APPS, URLS_SELF_ISSUER: 'http://auth.example.com' });
    expect(http).toContain('requires an https urls.self.issuer');
    expect(http).toContain('"http://auth.example.com"');
    expect(http).toContain('URLS_SELF_ALLOW_INSECURE_ISSUER');
    expect(() => loadConfig({ ...PRODUCTION, ...APPS, URLS_SELF_ISSUER: 'http://auth.example.com', URLS_SELF_ALLOW_INSECURE_ISSUER: 'true' })).not.toThrow();
    expect(() => loadConfig({ ...PRODUCTION, ...APPS })).not.toThrow();
    // Outside production the default http://127.0.0.1 issuer stays.
    expect(loadConfig(SECRETS).values['urls.self.issuer']).toBe('http://127.0.0.1:4444');
  });

  it('outside production, an unset login or consent app is replaced by the built-in development page', () => {
    const dev = new ConfigService(nestConfig(loadConfig(SECRETS)));
    expect(dev.developmentPage('login')).toBe(true);
    expect(dev.loginUrl()).toBe('http://127.0.0.1:4444/dev/login');
    const own = new ConfigService(nestConfig(loadConfig({ ...SECRETS, ...APPS })));
    expect(own.developmentPage('login')).toBe(false);
    expect(own.developmentPage('consent')).toBe(false);
    expect(own.consentUrl()).toBe(APPS.URLS_CONSENT);
    const off = new ConfigService(nestConfig(loadConfig({ ...SECRETS, OAUTH2_AUTHORIZATION_CODE_ENABLED: 'false' })));
    expect(off.developmentPage('login')).toBe(false);
    expect(off.authorizationCodeFlowEnabled()).toBe(false);
  });

  it('refuses weak secrets in production with one line naming the key', () => {
    const short = errorOf({ NODE_ENV: 'production', DSN: 'postgres://h/db', SECRETS_SYSTEM: 'short', ADMIN_API_KEYS: 'k'.repeat(32), ...APPS });
    expect(short).toContain('secrets.system');
    expect(short).toContain('fewer than 32 characters');
    expect(short).not.toContain('short');
    const weakKey = errorOf({ NODE_ENV: 'production', DSN: 'postgres://h/db', SECRETS_SYSTEM: 's'.repeat(32), ADMIN_API_KEYS: `${'k'.repeat(32)},weak`, ...APPS });
    expect(weakKey).toContain('admin.api_keys');
    expect(weakKey).toContain('entry 2');
  });

  it('parses rate limits like 20/1m, and 0 as off', () => {
    expect(loadConfig({ ...SECRETS, OIDC_DYNAMIC_CLIENT_REGISTRATION_RATE_LIMIT: '20/1m' }).values['oidc.dynamic_client_registration.rate_limit']).toEqual({ limit: 20, windowSeconds: 60 });
    expect(loadConfig({ ...SECRETS, OIDC_DYNAMIC_CLIENT_REGISTRATION_RATE_LIMIT: '0' }).values['oidc.dynamic_client_registration.rate_limit']).toBeUndefined();
    expect(loadConfig(SECRETS).values['oidc.dynamic_client_registration.rate_limit']).toEqual({ limit: 60, windowSeconds: 60 });
    expect(errorOf({ ...SECRETS, OIDC_DYNAMIC_CLIENT_REGISTRATION_RATE_LIMIT: 'lots' })).toContain('N/duration');
  });

  it('outside production, generates secrets and an admin key once and keeps them in the data directory', () => {
    const dir = tempDir();
    const first = loadConfig({ DATA_DIR: dir });
    expect(first.generatedAdminKey).toMatch(/^adm_[A-Za-z0-9_-]{43}$/);
    expect(first.values['admin.api_keys']).toEqual([first.generatedAdminKey]);
    const second = loadConfig({ DATA_DIR: dir });
    expect(second.values['admin.api_keys']).toEqual(first.values['admin.api_keys']);
    expect(second.values['secrets.system']).toEqual(first.values['secrets.system']);
    expect(statSync(join(dir, 'secrets.json')).mode & 0o077).toBe(0);
    expect(loadConfig({ DATA_DIR: dir, ADMIN_API_KEYS: 'mine' }).generatedAdminKey).toBeUndefined();
  });

  it('lists every key in the committed .env.example', () => {
    const committed = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
    expect(committed).toBe(renderEnvExample());
    for (const key of Object.keys(SCHEMA)) expect(committed).toContain(`# ${envName(key)}=`);
  });

  it('lets the Helm chart take every key by its environment name, and no other', () => {
    const committed = readFileSync(new URL('../../charts/registrar/values.schema.json', import.meta.url), 'utf8');
    expect(committed).toBe(withChartEnvNames(committed));
    const names = (JSON.parse(committed) as { properties: { env: { propertyNames: { anyOf: Array<{ enum?: string[] }> } } } }).properties.env.propertyNames.anyOf[0].enum;
    expect(names).toEqual(Object.keys(SCHEMA).map(envName));
  });
});

describe('start-up with a bad configuration', () => {
  it('exits non-zero with one line naming the key, the allowed values and the value found', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: new URL('../..', import.meta.url).pathname,
      env: { PATH: process.env.PATH, ...SECRETS, OIDC_DYNAMIC_CLIENT_REGISTRATION_STRATEGIES_ACCESS_TOKEN: 'jwe' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toBe(
      'registrar: invalid configuration: oidc.dynamic_client_registration.strategies.access_token ' +
        '(env OIDC_DYNAMIC_CLIENT_REGISTRATION_STRATEGIES_ACCESS_TOKEN) must be one of opaque, jwt; found "jwe"',
    );
  });
});

describe('oidc.client_id_metadata_document', () => {
  it('is off by default, with no allowed host, a 5 KB document limit and a 1m..1h cache', () => {
    const { values } = loadConfig(SECRETS);
    expect(values['oidc.client_id_metadata_document.enabled']).toBe(false);
    expect(values['oidc.client_id_metadata_document.allowed_hosts']).toEqual([]);
    expect(values['oidc.client_id_metadata_document.max_bytes']).toBe(5120);
    expect(values['oidc.client_id_metadata_document.cache.min_ttl']).toBe(60);
    expect(values['oidc.client_id_metadata_document.cache.max_ttl']).toBe(3600);
  });

  it('refuses a cache lower bound above the upper one, naming both keys', () => {
    const message = errorOf({
      ...SECRETS,
      OIDC_CLIENT_ID_METADATA_DOCUMENT_CACHE_MIN_TTL: '2h',
      OIDC_CLIENT_ID_METADATA_DOCUMENT_CACHE_MAX_TTL: '1h',
    });
    expect(message).toContain('oidc.client_id_metadata_document.cache.min_ttl (7200s)');
    expect(message).toContain('oidc.client_id_metadata_document.cache.max_ttl (3600s)');
  });
});

describe('oidc.dynamic_client_registration.access_token.scope', () => {
  it('is unset by default (registration with an access token is off) and takes one scope token', () => {
    expect(loadConfig(SECRETS).values['oidc.dynamic_client_registration.access_token.scope']).toBeUndefined();
    expect(loadConfig({ ...SECRETS, OIDC_DYNAMIC_CLIENT_REGISTRATION_ACCESS_TOKEN_SCOPE: ' dcr ' }).values['oidc.dynamic_client_registration.access_token.scope']).toBe('dcr');
  });

  it.each(['dcr admin', 'dcr"', 'dcr\\x', 'x'.repeat(201)])('refuses %j, naming the key and what it expects', (value) => {
    const message = errorOf({ ...SECRETS, OIDC_DYNAMIC_CLIENT_REGISTRATION_ACCESS_TOKEN_SCOPE: value });
    expect(message).toContain('oidc.dynamic_client_registration.access_token.scope');
    expect(message).toContain('one scope token');
  });
});

describe('audit.*', () => {
  const hook = (entry: Record<string, unknown>) => JSON.stringify([{ url: 'https://siem.example.com/registrar', secret: 's'.repeat(32), ...entry }]);

  it('logs events, keeps them 90 days and sends them nowhere by default; retries from 10 s up to 12 attempts or 24 h', () => {
    const { values } = loadConfig(SECRETS);
    expect(values['audit.log.enabled']).toBe(true);
    expect(values['audit.retention']).toBe(90 * 86400);
    expect(values['audit.webhooks']).toEqual([]);
    expect(values['audit.delivery.backoff']).toBe(10);
    expect(values['audit.delivery.max_attempts']).toBe(12);
    expect(values['audit.delivery.max_age']).toBe(86400);
  });

  it('reads audit.webhooks as a JSON array of {url, secret, types}', () => {
    const { values } = loadConfig({ ...SECRETS, AUDIT_WEBHOOKS: hook({ types: ['client.registered', 'token.revoked', 'client.registered'] }) });
    expect(values['audit.webhooks']).toEqual([
      { url: 'https://siem.example.com/registrar', secret: 's'.repeat(32), types: ['client.registered', 'token.revoked'] },
    ]);
  });

  it('refuses http URLs, URLs with credentials, unknown event types, unknown members and repeated URLs, without printing a secret or a URL', () => {
    const cases: Array<[Record<string, unknown> | string, string]> = [
      [{ url: 'http://siem.example.com/registrar?token=sekrit-path-token' }, 'must be an https URL'],
      [{ url: 'https://user:pass@siem.example.com/' }, 'must not carry credentials'],
      [{ url: 'not a url' }, 'absolute https URL'],
      [{ types: ['client.created'] }, '"client.created" is not one of'],
      [{ types: [] }, 'types must be a non-empty array'],
      [{ secret: '' }, 'secret must be a non-empty string'],
      [{ headers: { a: 'b' } }, 'unknown members headers'],
      [
        JSON.stringify([
          { url: 'https://siem.example.com/x?token=sekrit-path-token', secret: 's'.repeat(32) },
          { url: 'https://siem.example.com/x?token=sekrit-path-token', secret: 't'.repeat(32) },
        ]),
        'entry 2 repeats the url of entry 1',
      ],
      ['{"url": "https://siem.example.com"}', 'a JSON array'],
    ];
    for (const [entry, expected] of cases) {
      const message = errorOf({ ...SECRETS, AUDIT_WEBHOOKS: typeof entry === 'string' ? entry : hook(entry) });
      expect({ entry, message }).toEqual({ entry, message: expect.stringContaining('audit.webhooks') });
      expect({ entry, message }).toEqual({ entry, message: expect.stringContaining(expected) });
      expect(message).not.toContain('sekrit');
      expect(message).not.toContain('s'.repeat(32));
    }
  });

  it('refuses in production a webhook secret shorter than 32 characters, naming the entry', () => {
    const message = errorOf({ ...PRODUCTION, ...APPS, AUDIT_WEBHOOKS: hook({ secret: 'short-webhook-secret' }) });
    expect(message).toContain('audit.webhooks');
    expect(message).toContain('entry 1');
    expect(message).not.toContain('short-webhook-secret');
    expect(loadConfig({ ...SECRETS, AUDIT_WEBHOOKS: hook({ secret: 'short-webhook-secret' }) }).values['audit.webhooks']).toHaveLength(1);
  });
});
