import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { main } from '../../src/cli/cli.js';
import { ADMIN_KEY, startApp, type RunningApp } from '../support/app.js';
import { createDatabase, dropDatabase, query } from '../support/postgres.js';

let svc: RunningApp;
const dir = mkdtempSync(join(tmpdir(), 'registrar-cli-'));

beforeAll(async () => {
  svc = await startApp();
});
afterAll(async () => {
  await svc?.close();
});

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(['node', 'registrar', '--url', svc.url, ...args], {
    env: { REGISTRAR_ADMIN_KEY: ADMIN_KEY, ...env },
    out: (t) => (out += t),
    err: (t) => (err += t),
  });
  return { code, out, err };
}

describe('the operator CLI', () => {
  it('creates, lists, reads and deletes clients, with --json output', async () => {
    const created = await cli(['--json', 'clients', 'create', '--name', 'cli client', '--grant-types', 'client_credentials', '--scope', 'read', '--owner', 'cli-owner']);
    expect(created.code).toBe(0);
    const client = JSON.parse(created.out) as { client_id: string; client_secret: string };
    expect(client.client_secret).toBeTruthy();

    const listed = await cli(['clients', 'list', '--owner', 'cli-owner']);
    expect(listed.code).toBe(0);
    expect(listed.out).toContain(client.client_id);
    expect(listed.out).toContain('cli client');

    const got = await cli(['--json', 'clients', 'get', client.client_id]);
    expect(JSON.parse(got.out)).toMatchObject({ client_name: 'cli client', owner: 'cli-owner' });

    expect((await cli(['clients', 'delete', client.client_id])).code).toBe(0);
    const gone = await cli(['clients', 'get', client.client_id]);
    expect(gone.code).toBe(1);
    expect(gone.err).toContain('404 not_found');
  });

  it('creates a client from a JSON file', async () => {
    const file = join(dir, 'client.json');
    writeFileSync(file, JSON.stringify({ client_name: 'from file', grant_types: ['client_credentials'], access_token_strategy: 'jwt' }));
    const created = await cli(['--json', 'clients', 'create', '-f', file]);
    expect(JSON.parse(created.out)).toMatchObject({ client_name: 'from file', access_token_strategy: 'jwt' });
  });

  it('mints, lists and revokes initial access tokens', async () => {
    const minted = await cli(['--json', 'iat', 'mint', '--max-uses', '3', '--expires-in', '1h', '--description', 'from the cli']);
    expect(minted.code).toBe(0);
    const iat = JSON.parse(minted.out) as { id: string; token: string; max_uses: number };
    expect(iat.max_uses).toBe(3);
    expect(iat.token).toBeTruthy();
    expect((await cli(['iat', 'list'])).out).toContain(iat.id);
    expect((await cli(['iat', 'revoke', iat.id])).code).toBe(0);
    expect((await cli(['iat', 'list'])).out).not.toContain(iat.id);
  });

  it('lists and rotates signing keys', async () => {
    type Key = { kid: string; alg: string; state: string };
    const before = JSON.parse((await cli(['--json', 'keys', 'list'])).out) as Key[];
    const rotated = JSON.parse((await cli(['--json', 'keys', 'rotate'])).out) as Key;
    expect(rotated.state).toBe('active');
    const after = JSON.parse((await cli(['--json', 'keys', 'list'])).out) as Key[];
    expect(after.find((k) => k.kid === rotated.kid)?.state).toBe('active');
    // A rotation replaces the active key of every algorithm in use (clients may have asked for others).
    const activeAlgs = new Set(before.filter((k) => k.state === 'active').map((k) => k.alg));
    expect(after.length).toBe(before.length + activeAlgs.size);
    expect(new Set(after.filter((k) => k.state === 'active').map((k) => k.alg))).toEqual(activeAlgs);
    for (const k of before.filter((k) => k.state === 'active')) expect(after.find((a) => a.kid === k.kid)?.state).toBe('retired');
  });

  it('applies policies from a file, creating then replacing them', async () => {
    const name = `cli-policy-${Date.now()}`;
    const file = join(dir, 'policies.json');
    writeFileSync(file, JSON.stringify([{ name, description: 'v1', rules: { allowed_grant_types: ['client_credentials'] } }]));
    expect((await cli(['policies', 'apply', '-f', file])).code).toBe(0);
    writeFileSync(file, JSON.stringify({ name, description: 'v2', rules: { max_clients: 5 } }));
    expect((await cli(['policies', 'apply', '-f', file])).code).toBe(0);
    const listed = await cli(['--json', 'policies', 'list']);
    const policy = (JSON.parse(listed.out) as Array<{ name: string; description: string; rules: unknown }>).find((p) => p.name === name);
    expect(policy).toMatchObject({ description: 'v2', rules: { max_clients: 5 } });
  });

  it('reports API errors, a missing key and usage errors with exit codes 1 and 2', async () => {
    const bad = await cli(['policies', 'apply', '-f', join(dir, 'missing.json')]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('cannot read');
    const refused = await cli(['keys', 'list'], { REGISTRAR_ADMIN_KEY: 'wrong' });
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('401 invalid_token');
    let out = '';
    const noKey = await main(['node', 'registrar', '--url', svc.url, 'keys', 'list'], { env: {}, out: (t) => (out += t), err: (t) => (out += t) });
    expect(noKey).toBe(1);
    expect(out).toContain('REGISTRAR_ADMIN_KEY');
    expect((await cli(['clients', 'frobnicate'])).code).toBe(2);
  });

  it('migrates a fresh database', async () => {
    const db = await createDatabase('registrar_cli');
    try {
      const result = await cli(['--json', 'migrate'], { DSN: db.dsn, SECRETS_SYSTEM: 's', ADMIN_API_KEYS: 'k' });
      expect(result.code).toBe(0);
      expect((JSON.parse(result.out) as { applied: string[] }).applied.length).toBeGreaterThan(0);
      const { rows } = await query(`SELECT to_regclass('public.clients') AS t`, [], db.dsn);
      expect(rows[0].t).toBe('clients');
    } finally {
      await dropDatabase(db.name);
    }
  });
});
