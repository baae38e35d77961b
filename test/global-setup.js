// One PostgreSQL database for the whole run (the first app to start migrates it);
// global-teardown.js drops it. Plain JavaScript: Jest loads this file untransformed.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const ADMIN_DSN = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export async function adminExec(sql) {
  const client = new pg.Client({ connectionString: ADMIN_DSN });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export default async function globalSetup() {
  const name = `registrar_run_${process.pid}_${randomBytes(4).toString('hex')}`;
  await adminExec(`CREATE DATABASE ${name}`);
  const url = new URL(ADMIN_DSN);
  url.pathname = `/${name}`;
  process.env.REGISTRAR_TEST_DATABASE = name;
  process.env.REGISTRAR_TEST_DSN = url.toString();
}
