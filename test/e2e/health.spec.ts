import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startApp, type RunningApp } from '../support/app.js';
import { createDatabase, dropDatabase, query, ADMIN_DSN } from '../support/postgres.js';

let db: { name: string; dsn: string };
let svc: RunningApp;

beforeAll(async () => {
  db = await createDatabase('registrar_health');
  svc = await startApp({ env: { DSN: db.dsn } });
});
afterAll(async () => {
  await svc?.close();
  await query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`, [], ADMIN_DSN).catch(() => undefined);
  await dropDatabase(db.name);
});

describe('health', () => {
  it('reports liveness and readiness with 200', async () => {
    const alive = await fetch(`${svc.url}/health/alive`);
    expect(alive.status).toBe(200);
    expect(await alive.json()).toEqual({ status: 'ok' });
    expect((await fetch(`${svc.url}/health/ready`)).status).toBe(200);
  });

  it('turns readiness to 503 JSON while the database is unreachable, and recovers without a restart', async () => {
    await query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS false`, [], ADMIN_DSN);
    await query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [db.name], ADMIN_DSN);
    const down = await fetch(`${svc.url}/health/ready`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ error: 'temporarily_unavailable' });
    // A request that needs the database fails fast with 503 JSON too, not a hang or a 500.
    const admin = await svc.admin('/admin/clients');
    expect(admin.status).toBe(503);

    await query(`ALTER DATABASE ${db.name} ALLOW_CONNECTIONS true`, [], ADMIN_DSN);
    expect((await fetch(`${svc.url}/health/ready`)).status).toBe(200);
    expect((await svc.admin('/admin/clients')).status).toBe(200);
  });
});
