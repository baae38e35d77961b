// A fresh PostgreSQL database per test run (or per test file that asks for one),
// on the server every machine runs at 127.0.0.1:5432.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const ADMIN_DSN = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export function dsnFor(database: string): string {
  const url = new URL(ADMIN_DSN);
  url.pathname = `/${database}`;
  return url.toString();
}

async function withClient<T>(dsn: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: dsn });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createDatabase(prefix = 'registrar_test'): Promise<{ name: string; dsn: string }> {
  const name = `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
  await withClient(ADMIN_DSN, (c) => c.query(`CREATE DATABASE ${name}`));
  return { name, dsn: dsnFor(name) };
}

export async function dropDatabase(name: string): Promise<void> {
  await withClient(ADMIN_DSN, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

/** One query on its own connection to `dsn` (the run's database when omitted). */
export async function query(sql: string, params: unknown[] = [], dsn = process.env.REGISTRAR_TEST_DSN!): Promise<pg.QueryResult> {
  return withClient(dsn, (c) => c.query(sql, params));
}
