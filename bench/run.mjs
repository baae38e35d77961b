#!/usr/bin/env node
// Registrar's benchmark: `npm run bench` (or `npm run bench -- --smoke`).
//
// Starts PostgreSQL-backed Registrar and a bare node:http ceiling server, pins
// the server and PostgreSQL to core 0 and this load generator to core 1 (where
// taskset exists), runs each scenario with autocannon (32 connections), and
// prints a table: median req/s of several runs, p50, p99, errors, the server's
// peak RSS, and req/s as a share of the ceiling measured in the same run.
// Results and the machine description go to docs/benchmarks.md.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import pg from 'pg';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = new Set(process.argv.slice(2));
const SMOKE = args.has('--smoke');
const MILLION = args.has('--million');
// --scale-out: the same scenarios against one instance, then two instances on one database (README "Performance").
const SCALE_OUT = args.has('--scale-out');
const RUNS = SMOKE ? 1 : Number(process.env.BENCH_RUNS ?? 5);
const DURATION = SMOKE ? 1 : Number(process.env.BENCH_DURATION ?? 10);
const CONNECTIONS = 32;
const ADMIN_DSN = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ADMIN_KEY = 'bench-admin-key-0123456789abcdef0123456789';
const HAS_TASKSET = !SMOKE && existsSync('/usr/bin/taskset') && cpus().length >= 2;
// BENCH_ONLY=register,introspect runs only the scenarios whose keys are listed (see SCENARIOS).
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',')) : undefined;

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The node flags production starts the service with (`npm run start:prod`, README "Memory"); BENCH_NODE_FLAGS adds to them. */
function productionNodeFlags() {
  const { scripts } = JSON.parse(readFileSync(`${root}package.json`, 'utf8'));
  const m = /^node((?: --\S+)*) dist\/src\/main\.js$/.exec(scripts['start:prod']);
  if (!m) throw new Error(`package.json start:prod is not "node [flags] dist/src/main.js": ${scripts['start:prod']}`);
  return m[1].split(' ').filter(Boolean);
}

function pin(pid, core) {
  if (!HAS_TASKSET) return;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(core), String(pid)], { stdio: 'ignore' });
  } catch {
    // not permitted: run unpinned
  }
}

async function adminQuery(sql, params = [], dsn = ADMIN_DSN) {
  const client = new pg.Client({ connectionString: dsn });
  await client.connect();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end();
  }
}

async function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** The process's resident memory now (VmRSS) in MiB. */
function rssMiB(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return Math.round(kb / 1024);
  } catch {
    return NaN;
  }
}

/** Samples the process's RSS every 50 ms while `work` runs; resolves to work's result and the highest sample. */
async function withPeakRss(pid, work) {
  let peak = rssMiB(pid);
  const timer = setInterval(() => {
    const now = rssMiB(pid);
    if (now > peak) peak = now;
  }, 50);
  try {
    return { result: await work(), peak };
  } finally {
    clearInterval(timer);
  }
}

async function startRegistrar(dsn, env, core = 0) {
  const port = await freePort();
  const flags = [...productionNodeFlags(), ...(process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean)];
  const child = spawn(process.execPath, [...flags, 'dist/src/main.js'], {
    cwd: root,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'production',
      PORT: String(port),
      SERVE_PUBLIC_HOST: '127.0.0.1',
      DSN: dsn,
      SECRETS_SYSTEM: 'bench-system-secret-0123456789abcdef0123456789',
      ADMIN_API_KEYS: ADMIN_KEY,
      LOG_LEVEL: 'warn',
      JANITOR_INTERVAL: '0',
      OIDC_DYNAMIC_CLIENT_REGISTRATION_RATE_LIMIT: '0',
      // Production refuses to start without the login and consent apps of the code flow; none is called here.
      URLS_SELF_ISSUER: 'https://registrar.bench.invalid',
      OIDC_DYNAMIC_CLIENT_REGISTRATION_ALLOWED_SCOPES: 'read',
      URLS_LOGIN: 'https://login.bench.invalid/login',
      URLS_CONSENT: 'https://login.bench.invalid/consent',
      // Both registration scenarios: anonymous, and with an initial access token.
      OIDC_DYNAMIC_CLIENT_REGISTRATION_INITIAL_ACCESS_TOKEN_REQUIRED: 'false',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // Warnings and errors only (LOG_LEVEL=warn); the last few are shown if it does not start.
  let log = '';
  child.stdout.on('data', (d) => {
    log = (log + d).slice(-4000);
  });
  pin(child.pid, core);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${url}/health/ready`)).ok) return { url, child };
    } catch {
      // not up yet
    }
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`Registrar did not become ready; its last log lines:\n${log}`);
}

async function stop(child) {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

function startCeiling() {
  const body = JSON.stringify({ access_token: 'x'.repeat(43), token_type: 'Bearer', expires_in: 3600 });
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        '-e',
        `require('node:http').createServer((q, s) => { q.resume(); q.on('end', () => { s.writeHead(200, { 'content-type': 'application/json' }); s.end(${JSON.stringify(body)}); }); }).listen(0, '127.0.0.1', function () { console.log(this.address().port); });`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    pin(child.pid, 0);
    child.stdout.once('data', (d) => resolve({ url: `http://127.0.0.1:${String(d).trim()}`, child }));
  });
}

async function json(url, init) {
  const res = await fetch(url, init);
  const text = await res.text();
  if (!res.ok) throw new Error(`${init?.method ?? 'GET'} ${url}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

const admin = (url, path, body) =>
  json(`${url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { Authorization: `Bearer ${ADMIN_KEY}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

const basic = (c) => `Basic ${Buffer.from(`${encodeURIComponent(c.client_id)}:${encodeURIComponent(c.client_secret)}`).toString('base64')}`;
const form = { 'Content-Type': 'application/x-www-form-urlencoded' };

/** The requests of every scenario, against a prepared server. */
async function prepare(url) {
  const iat = await admin(url, '/admin/initial-access-tokens', { max_uses: 1_000_000, description: 'bench' });
  const opaqueClient = await admin(url, '/admin/clients', { grant_types: ['client_credentials'], scope: 'read', access_token_strategy: 'opaque' });
  const jwtClient = await admin(url, '/admin/clients', { grant_types: ['client_credentials'], scope: 'read', access_token_strategy: 'jwt' });
  const token = await json(`${url}/oauth2/token`, { method: 'POST', headers: { ...form, Authorization: basic(opaqueClient) }, body: 'grant_type=client_credentials' });
  const dcr = await json(`${url}/oauth2/register`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${iat.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ grant_types: ['client_credentials'], client_name: 'bench' }),
  });
  return {
    registerOpen: {
      method: 'POST',
      path: '/oauth2/register',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ grant_types: ['client_credentials'], client_name: 'bench', scope: 'read' }),
    },
    register: {
      method: 'POST',
      path: '/oauth2/register',
      headers: { Authorization: `Bearer ${iat.token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ grant_types: ['client_credentials'], client_name: 'bench', scope: 'read' }),
    },
    tokenOpaque: { method: 'POST', path: '/oauth2/token', headers: { ...form, Authorization: basic(opaqueClient) }, body: 'grant_type=client_credentials' },
    tokenJwt: { method: 'POST', path: '/oauth2/token', headers: { ...form, Authorization: basic(jwtClient) }, body: 'grant_type=client_credentials' },
    introspect: {
      method: 'POST',
      path: '/oauth2/introspect',
      headers: { ...form, Authorization: basic(opaqueClient) },
      body: `token=${token.access_token}`,
    },
    rfc7592Get: { method: 'GET', path: `/oauth2/register/${dcr.client_id}`, headers: { Authorization: `Bearer ${dcr.registration_access_token}` } },
    adminGet: { method: 'GET', path: `/admin/clients/${opaqueClient.client_id}`, headers: { Authorization: `Bearer ${ADMIN_KEY}` } },
  };
}

/** [key for BENCH_ONLY, name in the table, request prepared by `prepare`]. */
const SCENARIOS = [
  ['registerOpen', 'register, open registration', 'registerOpen'],
  ['register', 'register with an IAT', 'register'],
  ['tokenOpaque', 'client_credentials, opaque', 'tokenOpaque'],
  ['tokenJwt', 'client_credentials, JWT ES256', 'tokenJwt'],
  ['introspect', 'introspect an opaque token', 'introspect'],
  ['rfc7592Get', 'RFC 7592 GET', 'rfc7592Get'],
  ['adminGet', 'admin get client', 'adminGet'],
];

function cannon(url, request, connections = CONNECTIONS) {
  return new Promise((resolve, reject) => {
    autocannon(
      { url: `${url}${request.path}`, method: request.method, headers: request.headers, body: request.body, connections, duration: DURATION },
      (err, result) => (err ? reject(err) : resolve(result)),
    );
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** utime, stime, cutime and cstime of a process, in clock ticks (zeros once it is gone). */
function cpuTicks(pid) {
  try {
    // Fields 14 to 17 after the parenthesised command name: utime, stime, and those of its reaped children.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return { own: Number(fields[11]) + Number(fields[12]), children: Number(fields[13]) + Number(fields[14]), parent: Number(fields[1]) };
  } catch {
    return { own: 0, children: 0, parent: -1 };
  }
}

/** CPU time of one process so far, in microseconds. */
function processMicros(pid) {
  return (cpuTicks(pid).own * 1e6) / CLOCK_TICKS;
}

/**
 * CPU time of the whole PostgreSQL cluster so far, in microseconds: the
 * postmaster, every live child (backends, WAL writer, checkpointer,
 * autovacuum), and the children that have exited (counted in the
 * postmaster's cutime once reaped), so connections that close mid-run still count.
 */
function clusterMicros(postmaster) {
  const root = cpuTicks(postmaster);
  let ticks = root.own + root.children;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const proc = cpuTicks(Number(entry));
    if (proc.parent === postmaster) ticks += proc.own;
  }
  return (ticks * 1e6) / CLOCK_TICKS;
}

/**
 * Runs a scenario; `server` (when given) is { pid }, whose CPU per request is
 * measured over the counted runs: Registrar's process, and the PostgreSQL
 * cluster's (nothing else should use it meanwhile). CPU per request depends
 * less on what else the machine is doing than req/s does.
 */
async function measure(url, request, server) {
  const runs = [];
  await cannon(url, { ...request }); // warm-up, not counted
  const postmaster = postmasterPid();
  const before = server ? { node: processMicros(server.pid), pg: postmaster ? clusterMicros(postmaster) : NaN } : undefined;
  for (let i = 0; i < RUNS; i++) runs.push(await cannon(url, request));
  const requests = runs.reduce((n, r) => n + r.requests.total, 0);
  return {
    rps: median(runs.map((r) => r.requests.average)),
    p50: median(runs.map((r) => r.latency.p50)),
    p99: median(runs.map((r) => r.latency.p99)),
    errors: runs.reduce((n, r) => n + r.errors + r.timeouts + r.non2xx, 0),
    nodeCpu: before ? (processMicros(server.pid) - before.node) / requests : NaN,
    pgCpu: before && postmaster ? (clusterMicros(postmaster) - before.pg) / requests : NaN,
  };
}

/** The instances share the connections, all at once; their req/s add up. */
async function measureSpread(urls, request) {
  const each = () => Promise.all(urls.map((url) => cannon(url, request, CONNECTIONS / urls.length)));
  await each(); // warm-up, not counted
  const runs = [];
  for (let i = 0; i < RUNS; i++) {
    const results = await each();
    runs.push({
      rps: results.reduce((n, r) => n + r.requests.average, 0),
      p99: Math.max(...results.map((r) => r.latency.p99)),
      errors: results.reduce((n, r) => n + r.errors + r.timeouts + r.non2xx, 0),
    });
  }
  return { rps: median(runs.map((r) => r.rps)), p99: median(runs.map((r) => r.p99)), errors: runs.reduce((n, r) => n + r.errors, 0) };
}

/**
 * One instance (core 0, with PostgreSQL), then a second one on core 1 beside
 * the load generator, against the same database.
 */
async function scaleOut(dsn, first, requests) {
  const second = await startRegistrar(dsn, { JWT_SIGNING_ALGORITHM: 'ES256' }, 1);
  const rows = [];
  try {
    for (const [key, name, request] of SCENARIOS) {
      if (ONLY && !ONLY.has(key)) continue;
      const one = await measureSpread([first.url], requests[request]);
      const two = await measureSpread([first.url, second.url], requests[request]);
      rows.push({ name, one, two });
    }
  } finally {
    await stop(second.child);
  }
  return [
    '| scenario | one instance req/s | two instances req/s | growth | errors | p99 ms (one / two) |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows.map(
      ({ name, one, two }) =>
        `| ${name} | ${Math.round(one.rps)} | ${Math.round(two.rps)} | ${(two.rps / one.rps).toFixed(2)}x | ${one.errors + two.errors} | ${one.p99} / ${two.p99} |`,
    ),
  ].join('\n');
}

async function seedClients(dsn, count) {
  await adminQuery(
    `INSERT INTO clients (id, created_via, secret_hash, fields)
     SELECT 'seed-' || g, 'admin', 'sha256$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
            '{"grant_types":["client_credentials"],"scope":"read","token_endpoint_auth_method":"client_secret_basic"}'::jsonb
       FROM generate_series(1, $1) g`,
    [count],
    dsn,
  );
  await adminQuery('ANALYZE clients', [], dsn);
}

async function main() {
  if (!existsSync(`${root}dist/src/main.js`)) execFileSync('npx', ['nest', 'build'], { cwd: root, stdio: 'inherit' });
  if (HAS_TASKSET) pin(process.pid, 1);
  // PostgreSQL's backends are forked from the postmaster, so pinning it pins the connections made from now on.
  const postmaster = postmasterPid();
  if (postmaster) pin(postmaster, 0);

  const results = [];
  const idle = [];
  let scaleTable;
  // Measured at the start and again at the end: a virtual machine's speed drifts, and the share of the ceiling uses their mean.
  const measureCeiling = async (scenario) => {
    const ceiling = await startCeiling();
    const result = await measure(ceiling.url, { method: 'POST', path: '/', headers: form, body: 'grant_type=client_credentials' });
    ceiling.child.kill();
    return { scenario, ...result, rss: NaN };
  };
  results.push(await measureCeiling('ceiling: bare node:http, fixed JSON'));

  const database = `registrar_bench_${process.pid}`;
  await adminQuery(`CREATE DATABASE ${database}`);
  const dsn = ADMIN_DSN.replace(/\/[^/]*$/, `/${database}`);
  try {
    for (const alg of ['ES256', 'RS256']) {
      const keys = alg === 'ES256' ? SCENARIOS : [['tokenRs256', 'client_credentials, JWT RS256', 'tokenJwt']];
      const chosen = keys.filter(([key]) => !ONLY || ONLY.has(key));
      if (chosen.length === 0) continue;
      const svc = await startRegistrar(dsn, { JWT_SIGNING_ALGORITHM: alg });
      idle.push(`${alg}: ${rssMiB(svc.child.pid)} MiB at start`);
      const requests = await prepare(svc.url);
      const run = async (name, request) => {
        const { result, peak } = await withPeakRss(svc.child.pid, () => measure(svc.url, request, { pid: svc.child.pid }));
        results.push({ scenario: name, ...result, rss: peak });
      };
      for (const [, name, request] of chosen) await run(name, requests[request]);
      if (alg === 'ES256' && SCALE_OUT) scaleTable = await scaleOut(dsn, svc, requests);
      if (alg === 'ES256' && MILLION) {
        const { rows } = await adminQuery('SELECT count(*)::int AS n FROM clients', [], dsn);
        await seedClients(dsn, 1_000_000 - rows[0].n);
        await run('client_credentials, opaque (1M clients)', requests.tokenOpaque);
        await run('introspect an opaque token (1M clients)', requests.introspect);
      }
      await stop(svc.child);
    }
  } finally {
    await adminQuery(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  }

  results.push(await measureCeiling('ceiling again, at the end of the run'));
  const ceilingRps = (results[0].rps + results.at(-1).rps) / 2;
  const lines = [
    '| scenario | req/s (median) | p50 ms | p99 ms | errors | server RSS peak in scenario MiB | share of ceiling | Registrar CPU µs/req | PostgreSQL CPU µs/req |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...results.map(
      (r) =>
        `| ${r.scenario} | ${Math.round(r.rps)} | ${r.p50} | ${r.p99} | ${r.errors} | ${Number.isNaN(r.rss) ? '' : r.rss} | ${(r.rps / ceilingRps).toFixed(2)} | ${Number.isNaN(r.nodeCpu) ? '' : Math.round(r.nodeCpu)} | ${Number.isNaN(r.pgCpu) ? '' : Math.round(r.pgCpu)} |`,
    ),
  ];
  const table = [
    lines.join('\n'),
    `Server RSS before any request: ${idle.join('; ')}.`,
    ...(scaleTable ? ['Two instances on one database (the second on the load generator\'s core):', scaleTable] : []),
  ].join('\n\n');
  process.stdout.write(`\n${table}\n`);
  if (SMOKE) {
    if (results.some((r) => r.errors > 0 || !(r.rps > 0))) {
      process.stderr.write('bench smoke: a scenario had errors or no throughput\n');
      process.exitCode = 1;
    }
    return;
  }
  const pgVersion = (await adminQuery('SHOW server_version')).rows[0].server_version;
  const machine = [
    `- CPU: ${cpus()[0]?.model} x ${cpus().length}; memory ${Math.round(totalmem() / 2 ** 30)} GiB`,
    `- Node.js ${process.version}; PostgreSQL ${pgVersion} on the same machine`,
    `- ${HAS_TASKSET ? 'Registrar and PostgreSQL pinned to core 0, autocannon to core 1 (taskset)' : 'no pinning'}`,
    `- autocannon, ${CONNECTIONS} connections, ${DURATION} s per run, median of ${RUNS} runs after a warm-up run`,
    `- measured ${new Date().toISOString().slice(0, 10)}`,
  ].join('\n');
  const doc = readFileSync(`${root}docs/benchmarks.md`, 'utf8');
  const marker = '<!-- results: `npm run bench` replaces everything below this line with its latest run -->';
  const head = doc.includes(marker) ? doc.slice(0, doc.indexOf(marker) + marker.length) : `${doc}\n${marker}`;
  writeFileSync(`${root}docs/benchmarks.md`, `${head}\n\n## Latest run\n\n${machine}\n\n${table}\n`);
}

function postmasterPid() {
  try {
    const file = readdirSync('/var/run/postgresql').find((f) => f.endsWith('.pid'));
    return file ? Number(readFileSync(`/var/run/postgresql/${file}`, 'utf8').split('\n')[0]) : undefined;
  } catch {
    return undefined;
  }
}

main().catch((err) => {
  process.stderr.write(`bench: ${err.stack ?? err}\n`);
  process.exit(1);
});
