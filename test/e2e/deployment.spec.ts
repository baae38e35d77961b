// The deployment files as an operator meets them (README "Deploying"): the
// container image's runtime stage laid out from the Dockerfile and run as the
// image runs it, the Helm chart rendered by helm and its pods' commands and
// environment run against PostgreSQL, and compose.yaml read as compose reads it.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/config/load-config.js';
import { SCHEMA, envName } from '../../src/config/schema.js';
import { helm } from '../support/helm.js';
import { execForm, lastWorkdir, layOutImage, readDockerfile, stageEnv, type Stage } from '../support/image.js';
import { adminFetch, freePort } from '../support/net.js';
import { createDatabase, dropDatabase } from '../support/postgres.js';
import { REPO_ROOT, startDeployedService, stopAllServices } from '../support/process.js';

const SYSTEM_SECRET = 'deploy-system-secret-0123456789abcdef';
const ADMIN_KEY = 'deploy-admin-key-0123456789abcdefghij';
const CHART = join(REPO_ROOT, 'charts', 'registrar');
/** Every environment name the service reads: the schema's keys and aliases, and NODE_ENV. */
const KNOWN_ENV = new Set(['NODE_ENV', ...Object.entries(SCHEMA).flatMap(([k, def]) => [envName(k), ...((def as { aliases?: string[] }).aliases ?? [])])]);

const stages: Stage[] = readDockerfile();
const runtime = stages[stages.length - 1];
let app: string;
const databases: string[] = [];

/** A command of the image (e.g. the CLI) in the laid-out /app, with exactly `env`. */
async function run(argv: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const [command, ...args] = argv;
  expect(command).toBe('node');
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, args, { cwd: app, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

/** The image's CMD, which the service's containers run. */
function imageCommand(): string[] {
  return execForm(runtime.instructions.find((i) => i.op === 'CMD')!.args);
}

async function freshDatabase(): Promise<string> {
  const db = await createDatabase('registrar_deploy');
  databases.push(db.name);
  return db.dsn;
}

beforeAll(() => {
  app = layOutImage(stages);
}, 300_000);

afterAll(async () => {
  await stopAllServices();
  for (const name of databases) await dropDatabase(name);
});

describe('the container image', () => {
  it('builds in one stage and runs from another, as a user without privileges, with a health check', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const ops = (op: string) => runtime.instructions.filter((i) => i.op === op);
    const user = ops('USER').at(-1)?.args;
    expect(user).toBeDefined();
    expect(['root', '0', '0:0']).not.toContain(user);
    expect(execForm(ops('HEALTHCHECK')[0].args)).toEqual(['node', 'bin/registrar.js', 'health', '--timeout', '4']);
    // The service runs as `npm start` and `npm run start:prod` run it, V8 heap flags included (README "Memory").
    const cmd = execForm(ops('CMD')[0].args);
    expect(cmd).toEqual(['node', '--max-semi-space-size=8', '--max-old-space-size=256', 'dist/src/main.js']);
    const scripts = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    expect(scripts['start:prod']).toBe(cmd.join(' '));
    expect(scripts.start).toBe(`nest build && ${cmd.join(' ')}`);
    // The data directory the image names is made for that user, and only for it.
    const dataDir = stageEnv(runtime).DATA_DIR;
    expect(ops('RUN').some((i) => i.args.includes(`chown ${user}:${user} ${dataDir}`) && i.args.includes(`chmod 0700 ${dataDir}`))).toBe(true);
    // Nothing of the build stage but its output reaches the runtime stage.
    const fromBuild = ops('COPY').filter((i) => i.args.includes('--from=build'));
    expect(fromBuild.map((i) => i.args)).toEqual(['--from=build /src/dist dist']);
    expect(lastWorkdir(runtime)).toBe('/app');
    expect(stageEnv(runtime).NODE_ENV).toBe('production');
  });

  it('holds production dependencies only: no development tool, no SDK workspace, no TypeScript', () => {
    const installed = readdirSync(join(app, 'node_modules'));
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
    for (const name of Object.keys(pkg.dependencies)) expect(existsSync(join(app, 'node_modules', name))).toBe(true);
    // What the lock file marks as needed only for development is absent; a dev dependency that a
    // runtime package also needs (a type package, say) is not marked so, and may be there.
    const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const devOnly = Object.entries(lock.packages)
      .filter(([path, entry]) => entry.dev === true && /^node_modules\/(?:@[^/]+\/)?[^/]+$/.test(path))
      .map(([path]) => path.slice('node_modules/'.length));
    expect(devOnly.length).toBeGreaterThan(100);
    expect(devOnly.filter((name) => existsSync(join(app, 'node_modules', name)))).toEqual([]);
    for (const name of Object.keys(pkg.devDependencies).filter((n) => lock.packages[`node_modules/${n}`]?.dev === true)) {
      expect(existsSync(join(app, 'node_modules', name))).toBe(false);
    }
    for (const name of ['typescript', '@swc', 'jest', '@registrar']) expect(installed).not.toContain(name);
    expect(existsSync(join(app, 'dist', 'src', 'main.js'))).toBe(true);
    expect(existsSync(join(app, 'src'))).toBe(false);
    expect(existsSync(join(app, 'test'))).toBe(false);
  });

  it('migrates with the compiled CLI, serves, passes its own health check, and stops on SIGTERM', async () => {
    const port = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'registrar-image-data-'));
    const env = {
      ...stageEnv(runtime),
      DATA_DIR: dataDir,
      SERVE_PUBLIC_PORT: String(port),
      DSN: await freshDatabase(),
      SECRETS_SYSTEM: SYSTEM_SECRET,
      ADMIN_API_KEYS: ADMIN_KEY,
      URLS_SELF_ISSUER: 'https://auth.example.test',
      OAUTH2_AUTHORIZATION_CODE_ENABLED: 'false',
      DATABASE_MIGRATE_ON_START: 'false',
    };
    const healthCheck = execForm(runtime.instructions.find((i) => i.op === 'HEALTHCHECK')!.args);

    const down = await run(healthCheck, env);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(`cannot reach http://127.0.0.1:${port}/health/ready`);

    const migrated = await run(['node', 'bin/registrar.js', 'migrate'], env);
    expect(migrated).toMatchObject({ code: 0 });
    expect(migrated.stdout).toMatch(/^applied:\n {2}CreateClients\d+\n/);

    const svc = await startDeployedService(app, env, port, imageCommand());
    const healthy = await run(healthCheck, env);
    expect(healthy).toMatchObject({ code: 0 });
    expect(healthy.stdout).toContain('status: ok');

    const iat = (await (await adminFetch(svc.url, ADMIN_KEY, '/admin/initial-access-tokens', { method: 'POST', json: { max_uses: 1 } })).json()) as { token: string };
    const registered = await fetch(`${svc.url}/oauth2/register`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${iat.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ client_name: 'from the image', grant_types: ['client_credentials'], redirect_uris: [] }),
    });
    expect(registered.status).toBe(201);

    expect(await svc.stop('SIGTERM')).toEqual({ code: 0, signal: null });
    expect(svc.logs.some((line) => line.includes('shutting down'))).toBe(true);
  });
});

interface K8sDoc {
  kind: string;
  apiVersion: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  stringData?: Record<string, string>;
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef: { name: string; key: string } };
}
interface Container {
  name: string;
  command?: string[];
  env: EnvVar[];
  ports?: Array<{ name: string; containerPort: number }>;
  startupProbe?: { httpGet: { path: string; port: string } };
  livenessProbe?: { httpGet: { path: string; port: string } };
  readinessProbe?: { httpGet: { path: string; port: string } };
  securityContext: Record<string, unknown>;
}

/** `--set` flags: whole numbers as numbers, everything else as strings. */
function chartArgs(values: Record<string, string>): string[] {
  return Object.entries(values).flatMap(([k, v]) => [/^\d+$/.test(v) ? '--set' : '--set-string', `${k}=${v}`]);
}

async function render(values: Record<string, string>, extra: string[] = []): Promise<K8sDoc[]> {
  const out = await helm(['template', 'reg', CHART, ...chartArgs(values), ...extra]);
  expect(out.stderr).toBe('');
  expect(out.code).toBe(0);
  return parseAllDocuments(out.stdout)
    .map((d) => d.toJS() as K8sDoc)
    .filter(Boolean);
}

/** A container's environment with secretKeyRef values read from the rendered Secret. */
function resolveEnv(container: Container, docs: K8sDoc[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const v of container.env) {
    if (v.valueFrom) {
      const secret = docs.find((d) => d.kind === 'Secret' && d.metadata.name === v.valueFrom!.secretKeyRef.name);
      env[v.name] = secret!.stringData![v.valueFrom.secretKeyRef.key];
    } else {
      env[v.name] = v.value!;
    }
  }
  return env;
}

const one = (docs: K8sDoc[], kind: string, name?: string): K8sDoc => {
  const found = docs.filter((d) => d.kind === kind && (name === undefined || d.metadata.name === name));
  expect(found.map((d) => `${d.kind}/${d.metadata.name}`)).toHaveLength(1);
  return found[0];
};
const containerOf = (doc: K8sDoc): Container => doc.spec.template.spec.containers[0] as Container;

describe('the Helm chart', () => {
  let ports: { http: number; admin: number };
  let values: Record<string, string>;

  beforeAll(async () => {
    ports = { http: await freePort(), admin: await freePort() };
    values = {
      issuer: 'https://auth.example.test',
      'urls.login': 'https://login.example.test/login',
      'urls.consent': 'https://login.example.test/consent',
      'secrets.dsn': await freshDatabase(),
      'secrets.system[0]': SYSTEM_SECRET,
      'secrets.adminApiKeys[0]': ADMIN_KEY,
      'service.port': String(ports.http),
      'admin.port': String(ports.admin),
    };
  });

  it('passes helm lint --strict', async () => {
    const out = await helm(['lint', '--strict', CHART, ...chartArgs(values)]);
    expect(out.stdout).toContain('0 chart(s) failed');
    expect(out.code).toBe(0);
  });

  it('refuses to render without the issuer, the secrets, or the login and consent apps, naming what is missing', async () => {
    const without = async (...keys: string[]) => helm(['template', 'reg', CHART, ...chartArgs(Object.fromEntries(Object.entries(values).filter(([k]) => !keys.includes(k))))]);
    expect((await without('issuer')).stderr).toContain('issuer is required');
    expect((await without('secrets.dsn')).stderr).toContain('secrets.dsn, secrets.system and secrets.adminApiKeys are required');
    expect((await without('urls.login')).stderr).toContain('urls.login is required while the authorization code flow is on');
    for (const key of ['issuer', 'secrets.dsn', 'urls.login']) expect((await without(key)).code).not.toBe(0);
    // The code flow off, the login and consent apps are not needed; a Secret of one's own replaces the chart's.
    const docs = await render(
      { ...Object.fromEntries(Object.entries(values).filter(([k]) => !k.startsWith('urls.') && !k.startsWith('secrets.'))), 'secrets.existingSecret': 'mine', 'env.OAUTH2_AUTHORIZATION_CODE_ENABLED': 'false' },
    );
    expect(docs.filter((d) => d.kind === 'Secret')).toEqual([]);
    const env = containerOf(one(docs, 'Deployment')).env;
    expect(env.find((v) => v.name === 'DSN')?.valueFrom?.secretKeyRef).toEqual({ name: 'mine', key: 'DSN' });
    expect(env.map((v) => v.name)).not.toContain('URLS_LOGIN');
  });

  it('refuses values the service would not read: unknown settings, and settings the chart sets itself', async () => {
    const unknown = await helm(['template', 'reg', CHART, ...chartArgs({ ...values, 'env.LOG_LEVL': 'debug' })]);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('LOG_LEVL');
    const managed = await helm(['template', 'reg', CHART, ...chartArgs({ ...values, 'env.DSN': 'postgres://elsewhere/db' })]);
    expect(managed.code).not.toBe(0);
    expect(managed.stderr).toContain('DSN');
    const stray = await helm(['template', 'reg', CHART, ...chartArgs(values), '--set', 'replicas=3']);
    expect(stray.code).not.toBe(0);
    expect(stray.stderr).toContain('replicas');
    // A known setting and an OpenTelemetry variable pass through.
    const docs = await render({ ...values, 'env.LOG_LEVEL': 'debug', 'env.OTEL_SERVICE_NAME': 'registrar-eu' });
    expect(containerOf(one(docs, 'Deployment')).env).toEqual(expect.arrayContaining([{ name: 'LOG_LEVEL', value: 'debug' }, { name: 'OTEL_SERVICE_NAME', value: 'registrar-eu' }]));
  });

  it('renders ports, probes, services, the disruption budget, the autoscaler and the ServiceMonitor that match the service', async () => {
    const docs = await render(values, ['--set', 'autoscaling.enabled=true', '--set', 'serviceMonitor.enabled=true']);
    const deployment = one(docs, 'Deployment');
    const c = containerOf(deployment);
    const env = resolveEnv(c, docs);

    // Every variable is one the service reads, once; the configuration loads as production.
    expect(c.env.map((v) => v.name).filter((n) => !KNOWN_ENV.has(n))).toEqual([]);
    expect(new Set(c.env.map((v) => v.name)).size).toBe(c.env.length);
    const config = loadConfig(env);
    expect(config.production).toBe(true);
    expect(config.values['database.migrate_on_start']).toBe(false);

    // Named ports are the ports the configuration listens on; probes ask the public one.
    const named = Object.fromEntries((c.ports ?? []).map((p) => [p.name, p.containerPort]));
    expect(named).toEqual({ http: config.values['serve.public.port'], admin: config.values['serve.admin.port'] });
    expect(named).toEqual(ports);
    expect(c.startupProbe!.httpGet).toEqual({ path: '/health/alive', port: 'http' });
    expect(c.livenessProbe!.httpGet).toEqual({ path: '/health/alive', port: 'http' });
    expect(c.readinessProbe!.httpGet).toEqual({ path: '/health/ready', port: 'http' });
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect(deployment.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true });
    // The autoscaler owns the replica count.
    expect(deployment.spec.replicas).toBeUndefined();

    const selector = deployment.spec.selector.matchLabels as Record<string, string>;
    const publicService = one(docs, 'Service', 'reg-registrar');
    const adminService = one(docs, 'Service', 'reg-registrar-admin');
    expect(publicService.spec.selector).toEqual(selector);
    expect(adminService.spec.selector).toEqual(selector);
    expect(publicService.spec.ports).toEqual([{ name: 'http', port: ports.http, targetPort: 'http', protocol: 'TCP' }]);
    expect(adminService.spec.ports).toEqual([{ name: 'admin', port: ports.admin, targetPort: 'admin', protocol: 'TCP' }]);

    expect(one(docs, 'PodDisruptionBudget').spec).toEqual({ minAvailable: 1, selector: { matchLabels: selector } });
    expect(one(docs, 'HorizontalPodAutoscaler').spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
    const monitor = one(docs, 'ServiceMonitor');
    expect(monitor.spec.endpoints[0]).toMatchObject({ port: 'admin', path: '/metrics' });
    expect(adminService.metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
    expect(publicService.metadata.labels).not.toMatchObject(monitor.spec.selector.matchLabels);
  });

  it('runs: the migration Job migrates, then a pod with its environment serves its probes, the public port and the admin port apart', async () => {
    const docs = await render(values, ['--set', 'serviceMonitor.enabled=true']);
    const job = one(docs, 'Job');
    expect(job.metadata.annotations?.['helm.sh/hook']).toBe('pre-install,pre-upgrade');
    // The Secret the Job reads exists before it: a hook of a lower weight.
    const secret = one(docs, 'Secret');
    expect(Number(secret.metadata.annotations?.['helm.sh/hook-weight'])).toBeLessThan(Number(job.metadata.annotations?.['helm.sh/hook-weight']));
    const migrate = containerOf(job);
    const migrated = await run(migrate.command!, resolveEnv(migrate, docs));
    expect(migrated.stderr).toBe('');
    expect(migrated.stdout).toMatch(/^applied:\n/);

    // The pod runs the image's CMD with the Deployment's environment.
    const pod = containerOf(one(docs, 'Deployment'));
    expect(pod.command).toBeUndefined();
    const svc = await startDeployedService(app, resolveEnv(pod, docs), ports.http, imageCommand());
    const at = (port: string) => `http://127.0.0.1:${port === 'http' ? ports.http : ports.admin}`;
    for (const probe of [pod.startupProbe!, pod.livenessProbe!, pod.readinessProbe!]) {
      expect((await fetch(at(probe.httpGet.port) + probe.httpGet.path)).status).toBe(200);
    }
    const monitor = one(docs, 'ServiceMonitor').spec.endpoints[0] as { port: string; path: string };
    const scraped = await fetch(at(monitor.port) + monitor.path);
    expect(scraped.status).toBe(200);
    expect(await scraped.text()).toContain('registrar_');
    expect((await adminFetch(at('admin'), ADMIN_KEY, '/admin/clients')).status).toBe(200);
    expect((await adminFetch(at('http'), ADMIN_KEY, '/admin/clients')).status).toBe(404);
    expect((await fetch(`${at('http')}/.well-known/openid-configuration`)).status).toBe(200);
    expect((await fetch(`${at('admin')}/.well-known/openid-configuration`)).status).toBe(404);
    expect(await svc.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  }, 60_000);
});

describe('compose.yaml', () => {
  const raw = readFileSync(join(REPO_ROOT, 'compose.yaml'), 'utf8');

  /** Compose's variable interpolation, in every string of the parsed file: ${NAME}, ${NAME:-default} and ${NAME:?error}. */
  function interpolate(node: unknown, vars: Record<string, string>): unknown {
    if (Array.isArray(node)) return node.map((n) => interpolate(n, vars));
    if (node && typeof node === 'object') return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, interpolate(v, vars)]));
    if (typeof node !== 'string') return node;
    return node.replace(/\$\{([A-Z0-9_]+)(?::([-?])([^}]*))?\}/g, (_, name: string, kind?: string, arg?: string) => {
      const value = vars[name];
      if (value !== undefined && value !== '') return value;
      if (kind === '?') throw new Error(`required variable ${name} is missing a value: ${arg}`);
      return kind === '-' ? arg! : '';
    });
  }

  interface ComposeService {
    image?: string;
    build?: string;
    command?: string[];
    environment?: Record<string, string>;
    depends_on?: Record<string, { condition: string }>;
    ports?: string[];
    healthcheck?: { test: string[] };
  }
  const compose = (vars: Record<string, string>) => interpolate(parseYaml(raw, { merge: true }), vars) as { services: Record<string, ComposeService> };
  const vars = { SECRETS_SYSTEM: SYSTEM_SECRET, ADMIN_API_KEYS: ADMIN_KEY };

  it('needs the two secrets from the operator, and says how to make them', () => {
    expect(() => compose({ ADMIN_API_KEYS: ADMIN_KEY })).toThrow('SECRETS_SYSTEM is missing a value: set SECRETS_SYSTEM (32+ characters)');
    expect(() => compose({ SECRETS_SYSTEM: SYSTEM_SECRET })).toThrow('ADMIN_API_KEYS is missing a value');
  });

  it('migrates once PostgreSQL is healthy, starts the service after, and both read a valid production configuration', () => {
    const { services } = compose(vars);
    expect(services.postgres.healthcheck?.test[1]).toBe('pg_isready');
    expect(services.migrate.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    expect(services.registrar.depends_on).toEqual({ migrate: { condition: 'service_completed_successfully' } });
    expect(services.migrate.command).toEqual(['node', 'bin/registrar.js', 'migrate']);
    expect(services.registrar.command).toBeUndefined();
    expect(services.registrar.build).toBe('.');

    for (const name of ['migrate', 'registrar']) {
      const environment = services[name].environment!;
      expect(Object.keys(environment).filter((n) => !KNOWN_ENV.has(n))).toEqual([]);
      // The image's environment under the file's, as compose gives it to the container.
      const config = loadConfig({ ...stageEnv(runtime), ...environment });
      expect(config.production).toBe(true);
      expect(config.values['database.migrate_on_start']).toBe(false);
      expect(new URL(config.values.dsn!).hostname).toBe('postgres');
    }
    const config = loadConfig({ ...stageEnv(runtime), ...services.registrar.environment });
    // The public port on every interface of the host, the admin port on loopback only.
    expect(services.registrar.ports).toEqual([`${config.values['serve.public.port']}:${config.values['serve.public.port']}`, `127.0.0.1:${config.values['serve.admin.port']}:${config.values['serve.admin.port']}`]);
  });
});
