// Runs the compiled service (`node dist/src/main.js`) as a separate OS process,
// for tests that need what an in-process app cannot give: SIGKILL, SIGTERM,
// several instances on one database. `npx nest build` must have run first.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { adminFetch, freePort } from './net.js';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const MAIN_JS = join(REPO_ROOT, 'dist', 'src', 'main.js');
export const SYSTEM_SECRET = 'test-system-secret-0123456789abcdef';
// The same key as test/support/app.ts, which is not imported here: it would load the whole app into the test process.
export const ADMIN_KEY = 'test-admin-key-0123456789abcdef';

const READY_TIMEOUT_MS = 30_000;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServiceProcess {
  url: string;
  port: number;
  pid: number;
  child: ChildProcess;
  /** Every line the process wrote, stdout and stderr (stderr lines prefixed with "stderr: "). */
  logs: string[];
  /** Only the stderr lines. */
  stderr: string[];
  /** Resolves when the process has exited. */
  exited: Promise<Exit>;
  /** Sends `signal` (default SIGTERM) and waits for the exit; SIGKILL after `timeoutMs` (default 20 s). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<Exit>;
  /** SIGKILL, and waits for the exit. */
  kill9(): Promise<Exit>;
  /** fetch with the admin API key (and JSON body from `json`). */
  admin(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
}

/** Every process started and not yet seen to exit; stopAllServices() kills them. */
const running = new Set<ServiceProcess>();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));


function collectLines(stream: NodeJS.ReadableStream | null, sink: (line: string) => void): void {
  if (!stream) return;
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', sink);
}

/**
 * Starts `node dist/src/main.js` with a minimal environment (no variable of
 * the test runner leaks in), on a free port unless `env.PORT` is given, and
 * resolves once GET /health/ready answers 200. Fails (after killing the
 * process) if it exits first or is not ready within 30 s.
 */
export async function startService(env: Record<string, string>): Promise<ServiceProcess> {
  if (!existsSync(MAIN_JS)) throw new Error(`${MAIN_JS} is missing: run \`npx nest build\` first`);
  // The issuer is built from the port, so the port is chosen before the process starts; should
  // another process take it in between, the service exits with EADDRINUSE and starts again on another.
  for (let attempt = 1; ; attempt += 1) {
    const port = env.PORT ? Number(env.PORT) : await freePort();
    try {
      return await spawnService({ ...TEST_DEFAULTS, ...env, PORT: String(port) }, port, REPO_ROOT);
    } catch (err) {
      if (!(err instanceof PortTakenError) || env.PORT || attempt === 5) throw err;
    }
  }
}

/**
 * Starts a deployed layout's command (in `root`, e.g. the container image's /app;
 * `command` is its exec form, `node` with its flags and script) with exactly `env`
 * besides PATH and HOME, as a deployment would, and resolves once it answers
 * readiness on `port`.
 */
export function startDeployedService(root: string, env: Record<string, string>, port: number, command: string[]): Promise<ServiceProcess> {
  const [node, ...args] = command;
  if (node !== 'node') throw new Error(`a deployed command runs node, not ${node}`);
  return spawnService(env, port, root, args);
}

const TEST_DEFAULTS: Record<string, string> = {
  NODE_ENV: 'test',
  SERVE_PUBLIC_HOST: '127.0.0.1',
  SECRETS_SYSTEM: SYSTEM_SECRET,
  ADMIN_API_KEYS: ADMIN_KEY,
  LOG_LEVEL: 'warn',
  JANITOR_INTERVAL: '0',
  OIDC_DYNAMIC_CLIENT_REGISTRATION_RATE_LIMIT: '0',
};

class PortTakenError extends Error {}

async function spawnService(env: Record<string, string>, port: number, root: string, args = [join(root, 'dist', 'src', 'main.js')]): Promise<ServiceProcess> {
  const childEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? root,
    ...env,
  };
  const child = spawn(process.execPath, args, { cwd: root, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: string[] = [];
  const stderr: string[] = [];
  collectLines(child.stdout, (line) => logs.push(line));
  collectLines(child.stderr, (line) => {
    stderr.push(line);
    logs.push(`stderr: ${line}`);
  });
  let exit: Exit | undefined;
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    });
    child.once('error', (err) => {
      stderr.push(`spawn error: ${err.message}`);
      exit ??= { code: null, signal: null };
      resolve(exit);
    });
  });
  const url = `http://127.0.0.1:${port}`;

  const signalAndWait = async (signal: NodeJS.Signals, timeoutMs: number): Promise<Exit> => {
    if (exit) return exit;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };

  const svc: ServiceProcess = {
    url,
    port,
    pid: child.pid ?? -1,
    child,
    logs,
    stderr,
    exited,
    stop: (signal = 'SIGTERM', timeoutMs = 20_000) => signalAndWait(signal, timeoutMs),
    kill9: () => signalAndWait('SIGKILL', 5_000),
    admin: (path, init) => adminFetch(url, ADMIN_KEY, path, init),
  };
  running.add(svc);
  void exited.then(() => running.delete(svc));

  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (exit) break;
    try {
      const res = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) {
        await res.body?.cancel();
        return svc;
      }
      last = `${res.status} ${await res.text()}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(100);
  }
  const why = exit ? `exited (code ${exit.code}, signal ${exit.signal})` : `not ready within ${READY_TIMEOUT_MS / 1000} s (last: ${last})`;
  await svc.kill9();
  const message = `registrar on port ${port} ${why}; stderr:\n${stderr.join('\n')}\nstdout tail:\n${logs.slice(-20).join('\n')}`;
  throw exit && logs.some((line) => line.includes('EADDRINUSE')) ? new PortTakenError(message) : new Error(message);
}

/** SIGKILLs every process started by startService that is still running; for afterAll. */
export async function stopAllServices(): Promise<void> {
  await Promise.all([...running].map((svc) => svc.kill9()));
}
