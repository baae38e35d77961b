import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { machineClient } from '../factories/clients.js';
import { startApp } from '../support/app.js';
import { createDatabase, dropDatabase } from '../support/postgres.js';
import { startService } from '../support/process.js';

const dataDir = mkdtempSync(join(tmpdir(), 'registrar-embedded-'));

afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

describe('the embedded database (no dsn)', () => {
  it('creates its data directory, migrates, serves, and keeps clients across restarts', async () => {
    const env = { DATA_DIR: join(dataDir, 'nested', 'dir') };
    let svc = await startApp({ env });
    let clientId: string;
    try {
      expect((await fetch(`${svc.url}/health/ready`)).status).toBe(200);
      const res = await svc.admin('/admin/clients', { method: 'POST', json: machineClient({ client_name: 'survives restarts' }) });
      expect(res.status).toBe(201);
      clientId = ((await res.json()) as { client_id: string }).client_id;
    } finally {
      await svc.close();
    }

    svc = await startApp({ env });
    try {
      const res = await svc.admin(`/admin/clients/${clientId}`);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ client_name: 'survives restarts' });
    } finally {
      await svc.close();
    }
  }, 60_000);

  it('keeps its files from other users: a new data directory and pgdata are created 0700', async () => {
    const dir = join(dataDir, 'private', 'data');
    const svc = await startApp({ env: { DATA_DIR: dir } });
    await svc.close();
    const mode = (path: string) => statSync(path).mode & 0o777;
    expect(mode(dir)).toBe(0o700);
    expect(mode(join(dataDir, 'private'))).toBe(0o700);
    expect(mode(join(dir, 'pgdata'))).toBe(0o700);
  }, 60_000);

  it('makes an existing pgdata folder private again at start', async () => {
    const dir = join(dataDir, 'loosened');
    mkdirSync(join(dir, 'pgdata'), { recursive: true });
    chmodSync(join(dir, 'pgdata'), 0o777);
    const svc = await startApp({ env: { DATA_DIR: dir } });
    try {
      expect((await fetch(`${svc.url}/health/ready`)).status).toBe(200);
    } finally {
      await svc.close();
    }
    expect(statSync(join(dir, 'pgdata')).mode & 0o777).toBe(0o700);
  }, 60_000);

  it('handles concurrent writes on its single connection without losing any', async () => {
    const svc = await startApp({ env: { DATA_DIR: join(dataDir, 'concurrent') } });
    try {
      const owner = 'concurrent-owner';
      const results = await Promise.all(
        Array.from({ length: 20 }, () => svc.admin('/admin/clients', { method: 'POST', json: machineClient({ owner }) })),
      );
      expect(results.map((r) => r.status)).toEqual(Array(20).fill(201));
      const listed = (await (await svc.admin(`/admin/clients?owner=${owner}`)).json()) as unknown[];
      expect(listed).toHaveLength(20);
    } finally {
      await svc.close();
    }
  }, 60_000);

  it('logs the migrations it applied, then that the schema is up to date, and a generated development admin key as one JSON line', async () => {
    const dir = join(dataDir, 'logged');
    const env = { DATA_DIR: dir, ADMIN_API_KEYS: '', LOG_LEVEL: 'info' };
    const lines = (logs: string[]) => logs.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    const first = await startService(env);
    await first.stop();
    const firstLines = lines(first.logs);
    const applied = firstLines.find((l) => l.msg === `applied ${(l.applied as string[] | undefined)?.length} migrations`);
    expect(applied?.applied).toEqual(expect.arrayContaining([expect.stringMatching(/^\w+\d{13}$/)]));
    const banner = firstLines.find((l) => String(l.msg).startsWith('development admin API key'));
    expect(banner).toMatchObject({ level: 'info', admin_api_key: expect.stringMatching(/^adm_/), kept_in: `${dir}/secrets.json` });
    // Every line the service wrote is JSON: no free text on stdout.
    expect(first.logs.filter((l) => !l.startsWith('{') && !l.startsWith('stderr:') && l.trim() !== '')).toEqual([]);
    expect(firstLines.some((l) => String(l.msg).startsWith('shutting down'))).toBe(true);

    const second = await startService(env);
    await second.stop();
    expect(lines(second.logs).find((l) => l.msg === 'database schema up to date')).toMatchObject({ applied: [] });
    // The same key: it was generated once and kept.
    expect(lines(second.logs).find((l) => String(l.msg).startsWith('development admin API key'))?.admin_api_key).toBe(banner?.admin_api_key);
  }, 90_000);
});

describe('a service on PostgreSQL (README "Memory")', () => {
  it('loads neither the embedded database\'s code nor, without CONFIG_FILE, the YAML parser', async () => {
    const db = await createDatabase('registrar_footprint');
    try {
      const svc = await startService({ DSN: db.dsn, NODE_DEBUG: 'module,esm' });
      expect((await fetch(`${svc.url}/health/ready`)).status).toBe(200);
      await svc.stop();
      // Node's module log names the files it loads, imported and required (the positive control: Nest's and pg's)...
      expect(svc.stderr.some((line) => line.includes('node_modules/@nestjs/core/'))).toBe(true);
      expect(svc.stderr.some((line) => line.includes('node_modules/pg/lib/'))).toBe(true);
      // ...and no file of PGlite or of yaml.
      expect(svc.stderr.filter((line) => /node_modules\/(@electric-sql\/pglite|yaml)\//.test(line))).toEqual([]);
    } finally {
      await dropDatabase(db.name);
    }
  }, 60_000);
});
