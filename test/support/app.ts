// Starts the real application on a real port, over real HTTP, for e2e tests.
import { adminFetch, freePort } from './net.js';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createApp, listen } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config/load-config.js';
import { createDatabase, dropDatabase } from './postgres.js';

export const ADMIN_KEY = 'test-admin-key-0123456789abcdef';

export interface RunningApp {
  url: string;
  /** The admin listener's base URL, when started with `adminListener`. */
  adminUrl?: string;
  app: NestFastifyApplication;
  logs: string[];
  admin(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
  close(): Promise<void>;
}


export interface StartOptions {
  /** Overrides; with DATA_DIR and no DSN the app runs on the embedded database. */
  env?: Record<string, string>;
  /** Also start the admin listener (serve.admin.port) on a free port. */
  adminListener?: boolean;
}

/**
 * Starts the app on `env.PORT`, or on a port that was free a moment ago. The
 * issuer is built from the port before the app exists, so the port must be
 * chosen first; should another process take it in between, listening fails
 * with EADDRINUSE and the app starts again on another port.
 */
export async function startApp(options: StartOptions = {}): Promise<RunningApp> {
  for (let attempt = 1; ; attempt += 1) {
    const port = options.env?.PORT ? Number(options.env.PORT) : await freePort();
    try {
      return await startOn(port, options);
    } catch (err) {
      if ((err as { code?: string }).code !== 'EADDRINUSE' || options.env?.PORT || attempt === 5) throw err;
    }
  }
}

async function startOn(port: number, options: StartOptions): Promise<RunningApp> {
  const adminPort = options.adminListener ? await freePort() : undefined;
  const env: Record<string, string> = {
    PORT: String(port),
    SERVE_PUBLIC_HOST: '127.0.0.1',
    SERVE_ADMIN_HOST: '127.0.0.1',
    ...(adminPort !== undefined && { SERVE_ADMIN_PORT: String(adminPort) }),
    SECRETS_SYSTEM: 'test-system-secret-0123456789abcdef',
    ADMIN_API_KEYS: ADMIN_KEY,
    LOG_LEVEL: 'debug',
    // Tests register many clients from one address; the rate limit's own tests turn it on.
    OIDC_DYNAMIC_CLIENT_REGISTRATION_RATE_LIMIT: '0',
    // Test files share one database: a janitor run would delete another file's used-up IATs and
    // expired rows under its feet. The janitor's own tests run it by hand.
    JANITOR_INTERVAL: '0',
    ...(options.env?.DATA_DIR ? {} : { DSN: process.env.REGISTRAR_TEST_DSN! }),
    ...options.env,
  };
  const config = loadConfig(env);
  const logs: string[] = [];
  const logDestination = { write: (line: string) => void logs.push(line.trimEnd()) };
  const app = await createApp({ config, logDestination });
  try {
    await listen(app, config);
  } catch (err) {
    await app.close();
    throw err;
  }
  const url = `http://127.0.0.1:${port}`;
  const adminUrl = adminPort !== undefined ? `http://127.0.0.1:${adminPort}` : undefined;
  return {
    url,
    adminUrl,
    app,
    logs,
    admin: (path, init) => adminFetch(adminUrl ?? url, ADMIN_KEY, path, init),
    close: () => app.close(),
  };
}

export interface AppPair {
  db: { name: string; dsn: string };
  a: RunningApp;
  b: RunningApp;
  /** Stops both instances and drops their database. */
  close(): Promise<void>;
}

/** Two instances with the same configuration on one fresh database of their own, as behind one load balancer. */
export async function startPair(dbPrefix: string, env: Record<string, string> = {}): Promise<AppPair> {
  const db = await createDatabase(dbPrefix);
  const started: RunningApp[] = [];
  const close = async () => {
    for (const app of started) await app.close();
    await dropDatabase(db.name);
  };
  try {
    for (let i = 0; i < 2; i += 1) started.push(await startApp({ env: { DSN: db.dsn, ...env } }));
  } catch (err) {
    await close();
    throw err;
  }
  return { db, a: started[0], b: started[1], close };
}
