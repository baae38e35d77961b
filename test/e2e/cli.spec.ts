import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
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

async function cli(args: string[], env: Record<string, string> = {}, stdin?: string): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(['node', 'registrar', '--url', svc.url, ...args], {
    env: { REGISTRAR_ADMIN_KEY: ADMIN_KEY, ...env },
    out: (t) => (out += t),
    err: (t) => (err += t),
    stdin: async () => stdin ?? '',
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

  it('rotates a client secret: the new one is printed once, the previous one keeps working for --overlap', async () => {
    const created = JSON.parse((await cli(['--json', 'clients', 'create', '--grant-types', 'client_credentials', '--scope', 'read'])).out) as {
      client_id: string;
      client_secret: string;
    };
    const token = async (secret: string) =>
      (
        await fetch(`${svc.url}/oauth2/token`, {
          method: 'POST',
          headers: { Authorization: `Basic ${Buffer.from(`${created.client_id}:${secret}`).toString('base64')}`, 'Content-Type': 'application/x-www-form-urlencoded' },
          body: 'grant_type=client_credentials',
        })
      ).status;
    const rotated = await cli(['--json', 'clients', 'rotate-secret', created.client_id, '--overlap', '1h']);
    expect(rotated.code).toBe(0);
    const body = JSON.parse(rotated.out) as { client_secret: string; client_secrets: Array<{ expires_at: string | null }> };
    expect(body.client_secret).not.toBe(created.client_secret);
    expect(body.client_secrets).toHaveLength(2);
    expect(Math.abs(Date.parse(body.client_secrets[1].expires_at!) - (Date.now() + 3600_000))).toBeLessThan(60_000);
    expect(await token(created.client_secret)).toBe(200);
    expect(await token(body.client_secret)).toBe(200);

    // --overlap 0 ends the previous secret at once; the plain output shows the new one.
    const again = await cli(['clients', 'rotate-secret', created.client_id, '--overlap', '0']);
    expect(again.code).toBe(0);
    const newest = /^client_secret:\s+(\S+)$/m.exec(again.out)?.[1];
    expect(newest).toBeTruthy();
    expect(await token(body.client_secret)).toBe(401);
    expect(await token(newest!)).toBe(200);
    expect(await token(created.client_secret)).toBe(200);

    const unknown = await cli(['clients', 'rotate-secret', 'no-such-client']);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('404 not_found');
    const usage = await cli(['clients', 'rotate-secret', created.client_id, '--overlap', 'soon']);
    expect(usage.code).toBe(2);
    expect(usage.err).toContain('--overlap');
  });

  it('prints lists as tables whose first row names the columns', async () => {
    const owner = `table-owner-${Date.now()}`;
    const created = JSON.parse((await cli(['--json', 'clients', 'create', '--name', 'tabled', '--grant-types', 'client_credentials', '--owner', owner])).out) as { client_id: string };
    const lines = (await cli(['clients', 'list', '--owner', owner])).out.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0].split(/\s+/)).toEqual(['client_id', 'client_name', 'created_via', 'access_token_strategy']);
    expect(lines[1].startsWith(created.client_id)).toBe(true);
    expect((await cli(['iat', 'mint', '--description', 'tabled'])).code).toBe(0);
    const policyFile = join(dir, 'tabled-policy.json');
    writeFileSync(policyFile, JSON.stringify({ name: `tabled-${Date.now()}`, rules: { max_clients: 1 } }));
    expect((await cli(['policies', 'apply', '-f', policyFile])).code).toBe(0);
    expect((await cli(['keys', 'list'])).out.split('\n')[0].split(/\s+/)).toEqual(['kid', 'alg', 'state', 'created_at', 'retired_at']);
    expect((await cli(['iat', 'list'])).out.split('\n')[0].split(/\s+/)).toEqual(['id', 'uses', 'max_uses', 'expires_at', 'description']);
    expect((await cli(['policies', 'list'])).out.split('\n')[0].split(/\s+/)).toEqual(['name', 'clients_created', 'description']);
  });

  it('replaces a client from a JSON file or standard input, options overriding the file', async () => {
    const created = JSON.parse((await cli(['--json', 'clients', 'create', '--name', 'before', '--grant-types', 'client_credentials', '--scope', 'read'])).out) as { client_id: string };
    const file = join(dir, 'update.json');
    writeFileSync(file, JSON.stringify({ client_name: 'after', grant_types: ['client_credentials'], scope: 'write' }));
    const updated = await cli(['--json', 'clients', 'update', created.client_id, '-f', file, '--owner', 'updater']);
    expect(updated.code).toBe(0);
    expect(JSON.parse(updated.out)).toMatchObject({ client_id: created.client_id, client_name: 'after', scope: 'write', owner: 'updater' });

    const piped = await cli(['--json', 'clients', 'update', created.client_id, '-f', '-'], {}, JSON.stringify({ client_name: 'piped', grant_types: ['client_credentials'], scope: 'read' }));
    expect(piped.code).toBe(0);
    expect(JSON.parse((await cli(['--json', 'clients', 'get', created.client_id])).out)).toMatchObject({ client_name: 'piped', scope: 'read' });

    const missing = await cli(['clients', 'update', 'no-such-client', '-f', file]);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('404 not_found');
    expect((await cli(['clients', 'update', created.client_id])).code).toBe(2);
    const notJson = await cli(['clients', 'update', created.client_id, '-f', '-'], {}, 'not json');
    expect(notJson.code).toBe(1);
    expect(notJson.err).toContain('cannot read standard input');
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
    const got = await cli(['--json', 'iat', 'get', iat.id]);
    expect(got.code).toBe(0);
    expect(JSON.parse(got.out)).toMatchObject({ id: iat.id, max_uses: 3, description: 'from the cli' });
    expect(JSON.parse(got.out)).not.toHaveProperty('token');
    expect((await cli(['iat', 'revoke', iat.id])).code).toBe(0);
    expect((await cli(['iat', 'list'])).out).not.toContain(iat.id);
    expect((await cli(['iat', 'get', iat.id])).code).toBe(1);
  });

  it('sends --expires-in as seconds or as a duration the server reads', async () => {
    const inSevenDays = Date.now() + 7 * 86400_000;
    const week = JSON.parse((await cli(['--json', 'iat', 'mint', '--expires-in', '7d'])).out) as { expires_at: string };
    expect(Math.abs(Date.parse(week.expires_at) - inSevenDays)).toBeLessThan(60_000);
    const hour = JSON.parse((await cli(['--json', 'iat', 'mint', '--expires-in', '3600'])).out) as { expires_at: string };
    expect(Math.abs(Date.parse(hour.expires_at) - (Date.now() + 3600_000))).toBeLessThan(60_000);
  });

  it('refuses a non-numeric or non-positive numeric option with exit code 2, naming it, before any request', async () => {
    const count = async () => (JSON.parse((await cli(['--json', 'iat', 'list'])).out) as unknown[]).length;
    const before = await count();
    for (const args of [
      ['--max-uses', 'abc'],
      ['--max-uses', '0'],
      ['--max-uses', '2.5'],
      ['--expires-in', 'soon'],
      ['--expires-in', '0'],
    ]) {
      const refused = await cli(['iat', 'mint', ...args]);
      expect(refused.code).toBe(2);
      expect(refused.err).toContain(args[0]);
      expect(refused.out).toBe('');
    }
    expect(await count()).toBe(before);
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

  it('reads and deletes one policy by name', async () => {
    const name = `cli-get-${Date.now()}`;
    const file = join(dir, 'one-policy.json');
    writeFileSync(file, JSON.stringify({ name, description: 'to read', rules: { max_clients: 2 } }));
    expect((await cli(['policies', 'apply', '-f', file])).code).toBe(0);
    const got = await cli(['--json', 'policies', 'get', name]);
    expect(got.code).toBe(0);
    expect(JSON.parse(got.out)).toMatchObject({ name, description: 'to read', rules: { max_clients: 2 } });
    expect((await cli(['policies', 'get', name])).out).toContain(`name: ${name}`);
    const deleted = await cli(['--json', 'policies', 'delete', name]);
    expect(deleted.code).toBe(0);
    expect(JSON.parse(deleted.out)).toEqual({ deleted: name });
    const gone = await cli(['policies', 'get', name]);
    expect(gone.code).toBe(1);
    expect(gone.err).toContain('404');
    expect((await cli(['policies', 'delete', name])).code).toBe(1);
  });

  it('lists audit events, newest first, filtered by --type (repeatable or comma-separated) and --client, as a table or JSON', async () => {
    const created = JSON.parse((await cli(['--json', 'clients', 'create', '--grant-types', 'client_credentials', '--scope', 'read'])).out) as { client_id: string };
    expect((await cli(['clients', 'rotate-secret', created.client_id])).code).toBe(0);
    expect((await cli(['clients', 'delete', created.client_id])).code).toBe(0);

    const table = await cli(['events', 'list', '--client', created.client_id]);
    expect(table.code).toBe(0);
    const lines = table.out.trimEnd().split('\n');
    expect(lines[0].split(/\s+/)).toEqual(['time', 'type', 'actor', 'client_id', 'request_id']);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[1])).toEqual(['admin.client.deleted', 'client.secret_rotated', 'admin.client.created']);
    expect(lines[1].split(/\s+/)[2]).toMatch(/^admin:[0-9a-f]{16}$/);

    const json = await cli(['--json', 'events', 'list', '--client', created.client_id, '--type', 'admin.client.created', '--type', 'admin.client.deleted,client.read']);
    const events = JSON.parse(json.out) as Array<{ type: string; client_id: string; actor: { type: string } }>;
    expect(events.map((e) => e.type)).toEqual(['admin.client.deleted', 'admin.client.created']);
    expect(events.every((e) => e.client_id === created.client_id && e.actor.type === 'admin')).toBe(true);

    const limited = JSON.parse((await cli(['--json', 'events', 'list', '--client', created.client_id, '--limit', '2'])).out) as unknown[];
    expect(limited).toHaveLength(2);

    const refused = await cli(['events', 'list', '--type', 'client.created']);
    expect(refused.code).toBe(1);
    expect(refused.err).toContain('400 invalid_request');
    expect(refused.err).toContain('client.created');
    expect((await cli(['events', 'list', '--limit', '0'])).code).toBe(2);
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
    expect(noKey).toBe(2);
    expect(out).toContain('set REGISTRAR_ADMIN_KEY');
    expect((await cli(['clients', 'frobnicate'])).code).toBe(2);
  });

  it('prints each error as one readable line, or as JSON on stderr under --json', async () => {
    const plain = await cli(['clients', 'get', 'no-such-client']);
    expect(plain.code).toBe(1);
    expect(plain.err.trimEnd().split('\n')).toHaveLength(1);
    expect(plain.err).toMatch(/^registrar: 404 not_found/);

    // The server's error body, unchanged (README "HTTP API").
    const fromServer = await cli(['--json', 'clients', 'get', 'no-such-client']);
    expect(fromServer.code).toBe(1);
    expect(fromServer.out).toBe('');
    const body = JSON.parse(fromServer.err) as { error: string; error_description: string };
    expect(body.error).toBe('not_found');
    expect(typeof body.error_description).toBe('string');
    const refused = await cli(['--json', 'keys', 'list'], { REGISTRAR_ADMIN_KEY: 'wrong' });
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.err)).toMatchObject({ error: 'invalid_token' });

    const usage = await cli(['--json', 'clients', 'frobnicate']);
    expect(usage.code).toBe(2);
    expect(JSON.parse(usage.err)).toEqual({ error: 'usage_error', error_description: expect.stringContaining('frobnicate') });
    const plainUsage = await cli(['clients', 'frobnicate']);
    expect(plainUsage.err.trimEnd().split('\n')).toHaveLength(1);
    const badNumber = await cli(['--json', 'iat', 'mint', '--max-uses', 'abc']);
    expect(badNumber.code).toBe(2);
    expect(JSON.parse(badNumber.err)).toEqual({ error: 'usage_error', error_description: expect.stringContaining('--max-uses') });

    let err = '';
    const noKey = await main(['node', 'registrar', '--url', svc.url, '--json', 'keys', 'list'], { env: {}, out: () => undefined, err: (t) => (err += t) });
    expect(noKey).toBe(2);
    expect(JSON.parse(err)).toEqual({ error: 'usage_error', error_description: expect.stringContaining('REGISTRAR_ADMIN_KEY') });

    const unreadable = await cli(['--json', 'policies', 'apply', '-f', join(dir, 'missing.json')]);
    expect(unreadable.code).toBe(1);
    expect(JSON.parse(unreadable.err)).toEqual({ error: 'cli_error', error_description: expect.stringContaining('cannot read') });
  });

  it('prints the package version with --version, from the build too', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const printed = await cli(['--version']);
    expect(printed.code).toBe(0);
    expect(printed.out.trim()).toBe(version);
    const built = await promisify(execFile)(process.execPath, [new URL('../../bin/registrar.js', import.meta.url).pathname, '--version']);
    expect(built.stdout.trim()).toBe(version);
  });

  it('health: exit 0 when the server is ready or alive, 1 with the reason when it cannot answer; the configured port by default', async () => {
    const ready = await cli(['--json', 'health']);
    expect(ready.code).toBe(0);
    expect(JSON.parse(ready.out)).toEqual({ status: 'ok', url: `${svc.url}/health/ready` });
    expect(JSON.parse((await cli(['--json', 'health', '--alive'])).out)).toEqual({ status: 'ok', url: `${svc.url}/health/alive` });

    // Without --url it asks this machine on the port the configuration names, as the container's health check does.
    const port = new URL(svc.url).port;
    let out = '';
    const code = await main(['node', 'registrar', 'health'], { env: { SERVE_PUBLIC_PORT: port, DATA_DIR: dir }, out: (t) => (out += t), err: () => undefined });
    expect(code).toBe(0);
    expect(out).toContain(`url: http://127.0.0.1:${port}/health/ready`);

    let err = '';
    const closed = await main(['node', 'registrar', '--url', 'http://127.0.0.1:9', 'health'], { env: {}, out: () => undefined, err: (t) => (err += t) });
    expect(closed).toBe(1);
    expect(err).toContain('cannot reach http://127.0.0.1:9/health/ready');
    expect((await cli(['health', '--timeout', '0'])).code).toBe(2);
  });

  it('migrates a fresh database', async () => {
    const db = await createDatabase('registrar_cli');
    try {
      const env = { DSN: db.dsn, SECRETS_SYSTEM: 's', ADMIN_API_KEYS: 'k' };
      const result = await cli(['--json', 'migrate'], env);
      expect(result.code).toBe(0);
      const { applied } = JSON.parse(result.out) as { applied: string[] };
      const recorded = (await query('SELECT name FROM registrar_migrations ORDER BY id', [], db.dsn)).rows as Array<{ name: string }>;
      expect(applied).toEqual(recorded.map((r) => r.name));
      expect(applied.length).toBeGreaterThan(0);
      const { rows } = await query(`SELECT to_regclass('public.clients') AS t`, [], db.dsn);
      expect(rows[0].t).toBe('clients');

      expect(JSON.parse((await cli(['--json', 'migrate'], env)).out)).toEqual({ applied: [] });
      expect((await cli(['migrate'], env)).out.trim()).toBe('nothing to apply');

      const last = applied[applied.length - 1];
      const reverted = await cli(['migrate', '--revert'], env);
      expect(reverted.out.trim()).toBe(`reverted: ${last}`);
      const again = await cli(['migrate'], env);
      expect(again.code).toBe(0);
      expect(again.out).toBe(`applied:\n  ${last}\n`);
    } finally {
      await dropDatabase(db.name);
    }
  });
});
