// Starts the real application on a real port, over real HTTP, for e2e tests.
import { adminFetch, freePort } from './net.js';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createApp } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config/load-config.js';

export const ADMIN_KEY = 'test-admin-key-0123456789abcdef';

export interface RunningApp {
  url: string;
  app: NestFastifyApplication;
  logs: string[];
  admin(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
  close(): Promise<void>;
}


export interface StartOptions {
  /** Overrides; with DATA_DIR and no DSN the app runs on the embedded database. */
  env?: Record<string, string>;
}

export async function startApp(options: StartOptions = {}): Promise<RunningApp> {
  const port = options.env?.PORT ? Number(options.env.PORT) : await freePort();
  const env: Record<string, string> = {
    PORT: String(port),
    SECRETS_SYSTEM: 'test-system-secret-0123456789abcdef',
    ADMIN_API_KEYS: ADMIN_KEY,
    LOG_LEVEL: 'debug',
    // Tests register many clients from one address; the rate limit's own tests turn it on.
    OIDC_DYNAMIC_CLIENT_REGISTRATION_RATE_LIMIT: '0',
    ...(options.env?.DATA_DIR ? {} : { DSN: process.env.REGISTRAR_TEST_DSN! }),
    ...options.env,
  };
  const config = loadConfig(env);
  const logs: string[] = [];
  const logDestination = { write: (line: string) => void logs.push(line.trimEnd()) };
  const app = await createApp({ config, logDestination });
  await app.listen(port, '127.0.0.1');
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    app,
    logs,
    admin: (path, init) => adminFetch(url, ADMIN_KEY, path, init),
    close: () => app.close(),
  };
}
