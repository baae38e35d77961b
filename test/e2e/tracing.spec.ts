// Tracing (README "Tracing"; W3C Trace Context). The compiled service runs as
// its own process: the OpenTelemetry SDK instruments Fastify, pg and node:http(s)
// as Node loads them, which Jest's own module loader would bypass in-process.
// Spans go over OTLP/HTTP (JSON) to a receiver in this test; each service is
// stopped with SIGTERM, which exports what is still buffered, before anything
// is asserted, so no assertion waits on a timer.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { machineClient } from '../factories/clients.js';
import { mintIat } from '../support/dcr.js';
import { sendJson, startHttpsServer, type TestHttpsServer } from '../support/https-server.js';
import { SPAN_KIND, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.js';
import { createDatabase, dropDatabase } from '../support/postgres.js';
import { startService, stopAllServices, type Exit, type ServiceProcess } from '../support/process.js';

const CALLBACK = 'https://app.example.com/callback';
/** A module of the SDK or of an instrumentation, as NODE_DEBUG=module names the files Node loads. */
const SDK_MODULE = /node_modules\/(@opentelemetry\/(sdk-|instrumentation)|@fastify\/otel)/;

type Json = Record<string, unknown>;

/** A W3C traceparent (version 00, sampled) with fresh random ids. */
function traceparent(): { header: string; traceId: string; parentId: string } {
  const traceId = randomBytes(16).toString('hex');
  const parentId = randomBytes(8).toString('hex');
  return { header: `00-${traceId}-${parentId}-01`, traceId, parentId };
}

/** The JSON lines the service wrote to stdout. */
function jsonLines(svc: ServiceProcess): Json[] {
  return svc.logs.filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Json);
}

/** The access-log line of the request that got `requestId` (X-Request-Id). */
function accessLine(svc: ServiceProcess, requestId: string): Json {
  const line = jsonLines(svc).find((l) => l.msg === 'request' && (l.req as Json | undefined)?.id === requestId);
  if (!line) throw new Error(`no access-log line for request ${requestId}`);
  return line;
}

function register(svc: ServiceProcess, body: Json, iat: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${svc.url}/oauth2/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${iat}`, ...headers },
    body: JSON.stringify(body),
  });
}

async function registered(res: Response): Promise<string> {
  const text = await res.text();
  if (res.status !== 201) throw new Error(`expected 201, got ${res.status} ${text}`);
  return res.headers.get('x-request-id')!;
}

/** The spans of one trace. */
function traceOf(spans: ReceivedSpan[], traceId: string): ReceivedSpan[] {
  return spans.filter((s) => s.traceId === traceId);
}

/** The parent chain of `span` within its trace, up to the span with no parent in it. */
function ancestry(trace: ReceivedSpan[], span: ReceivedSpan): ReceivedSpan[] {
  const chain = [span];
  for (let parent = trace.find((s) => s.spanId === span.parentSpanId); parent; parent = trace.find((s) => s.spanId === parent!.parentSpanId)) {
    chain.push(parent);
  }
  return chain;
}

let remote: TestHttpsServer;
let db: { name: string; dsn: string };
/** The traceparent header of every request the sector_identifier_uri routes received, by path. */
const fetchedWith = new Map<string, (string | undefined)[]>();

function sectorRoute(path: string): string {
  fetchedWith.set(path, []);
  remote.route(path, (req, res) => {
    fetchedWith.get(path)!.push(req.headers.traceparent as string | undefined);
    sendJson(res, [CALLBACK]);
  });
  return `${remote.url}${path}`;
}

/** What every service here shares: the test database, server-side fetches to the local HTTPS server, the access log, and Node's module log. */
function serviceEnv(extra: Record<string, string>): Record<string, string> {
  return {
    DSN: db.dsn,
    LOG_LEVEL: 'info',
    FETCH_CA_FILE: remote.caFile,
    FETCH_ALLOW_PRIVATE_NETWORKS: 'true',
    NODE_DEBUG: 'module',
    ...extra,
  };
}

beforeAll(async () => {
  remote = await startHttpsServer();
  db = await createDatabase('registrar_tracing');
});

afterAll(async () => {
  await stopAllServices();
  await remote?.close();
  if (db) await dropDatabase(db.name);
});

describe('with OTEL_EXPORTER_OTLP_ENDPOINT set', () => {
  let receiver: OtlpReceiver;
  let svc: ServiceProcess;
  let exit: Exit;
  /** A registration sent without a traceparent. */
  let plainRequestId: string;
  /** A registration continuing a caller's trace, whose sector_identifier_uri the server fetches. */
  const continued = traceparent();
  let continuedRequestId: string;
  let continuedSector: string;
  /** A readiness probe sent with a traceparent. */
  const probe = traceparent();
  let probeRequestId: string;
  /** A discovery request whose query string carries a marker. */
  const queried = traceparent();
  const QUERY_MARK = `mark-${randomBytes(6).toString('hex')}`;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    continuedSector = sectorRoute('/sector-traced.json');
    svc = await startService(serviceEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }));
    const iat = await mintIat(svc, { max_uses: 2 });
    plainRequestId = await registered(await register(svc, machineClient(), iat));
    continuedRequestId = await registered(
      await register(svc, { client_name: 'traced', redirect_uris: [CALLBACK], sector_identifier_uri: continuedSector }, iat, {
        traceparent: continued.header,
      }),
    );
    const ready = await fetch(`${svc.url}/health/ready`, { headers: { traceparent: probe.header } });
    expect(ready.status).toBe(200);
    probeRequestId = ready.headers.get('x-request-id')!;
    const discovery = await fetch(`${svc.url}/.well-known/openid-configuration?probe=${QUERY_MARK}`, { headers: { traceparent: queried.header } });
    expect(discovery.status).toBe(200);
    await discovery.body?.cancel();
    // Shutdown exports every span still buffered before the process exits.
    exit = await svc.stop();
  }, 60_000);

  afterAll(async () => {
    await receiver?.close();
  });

  it('exports over OTLP/HTTP JSON and exits cleanly after exporting', () => {
    expect(receiver.rejected).toEqual([]);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(receiver.spans.length).toBeGreaterThan(0);
  });

  it('names the service registrar unless OTEL_SERVICE_NAME says otherwise', () => {
    expect(new Set(receiver.spans.map((s) => s.resource['service.name']))).toEqual(new Set(['registrar']));
  });

  it('loads the SDK and the instrumentations', () => {
    expect(svc.stderr.some((line) => SDK_MODULE.test(line))).toBe(true);
  });

  it('makes one RFC 7591 registration one trace: the HTTP server span at its root, Fastify\'s request and handler spans and the pg spans under it', () => {
    const servers = receiver.spans.filter(
      (s) => s.kind === SPAN_KIND.SERVER && s.attributes['url.path'] === '/oauth2/register' && s.traceId !== continued.traceId,
    );
    expect(servers).toHaveLength(1);
    const [server] = servers;
    expect(server).toMatchObject({ scope: '@opentelemetry/instrumentation-http', parentSpanId: '' });
    expect(server.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.response.status_code': 201 });

    const trace = traceOf(receiver.spans, server.traceId);
    // Every span of the trace hangs from the server span: one tree, one root.
    for (const span of trace) expect(ancestry(trace, span).at(-1)).toBe(server);
    expect(trace.filter((s) => s.scope === '@fastify/otel').map((s) => s.name)).toEqual(
      expect.arrayContaining(['request', 'handler - RegistrationController.register']),
    );
    const statements = trace.filter((s) => s.scope === '@opentelemetry/instrumentation-pg' && typeof s.attributes['db.query.text'] === 'string');
    expect(statements.some((s) => /INSERT INTO "?clients"?/.test(s.attributes['db.query.text'] as string))).toBe(true);
    // The statement text only: values bound to it (hashes of secrets among them) are not recorded.
    for (const s of statements) expect(Object.keys(s.attributes).filter((k) => k.startsWith('db.query.parameter') || k === 'db.postgresql.values')).toEqual([]);
  });

  it('continues the trace of an incoming traceparent: the server span is the caller\'s span\'s child, and its database spans share the trace id', () => {
    const trace = traceOf(receiver.spans, continued.traceId);
    const server = trace.find((s) => s.kind === SPAN_KIND.SERVER && s.scope === '@opentelemetry/instrumentation-http');
    expect(server).toMatchObject({ parentSpanId: continued.parentId, attributes: expect.objectContaining({ 'url.path': '/oauth2/register' }) });
    expect(trace.some((s) => s.scope === '@opentelemetry/instrumentation-pg')).toBe(true);
    for (const span of trace) expect(ancestry(trace, span).at(-1)).toBe(server);
  });

  it('sends traceparent on the server-side fetch of a sector_identifier_uri, naming the client span of that fetch in the same trace', () => {
    const sent = fetchedWith.get('/sector-traced.json')!;
    expect(sent).toHaveLength(1);
    const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(sent[0] ?? '');
    expect(match?.[1]).toBe(continued.traceId);
    const client = traceOf(receiver.spans, continued.traceId).find((s) => s.spanId === match?.[2]);
    expect(client).toMatchObject({ kind: SPAN_KIND.CLIENT, scope: '@opentelemetry/instrumentation-http' });
    expect(client!.attributes['url.full']).toBe(continuedSector);
  });

  it('writes the trace id and span id into the access-log line of a traced request', () => {
    const line = accessLine(svc, continuedRequestId);
    expect(line.trace_id).toBe(continued.traceId);
    expect(traceOf(receiver.spans, continued.traceId).map((s) => s.spanId)).toContain(line.span_id);

    const plain = accessLine(svc, plainRequestId);
    const server = receiver.spans.find((s) => s.kind === SPAN_KIND.SERVER && s.traceId === plain.trace_id);
    expect(server?.attributes['url.path']).toBe('/oauth2/register');
  });

  it('leaves readiness probes untraced: no span, and no trace fields in their log line', () => {
    expect(traceOf(receiver.spans, probe.traceId)).toEqual([]);
    const line = accessLine(svc, probeRequestId);
    expect(line).toMatchObject({ res: { status: 200 } });
    expect(line).not.toHaveProperty('trace_id');
    expect(line).not.toHaveProperty('span_id');
  });

  it('keeps query strings out of the exported spans, as out of the log', () => {
    const trace = traceOf(receiver.spans, queried.traceId);
    expect(trace.some((s) => s.kind === SPAN_KIND.SERVER && s.attributes['url.path'] === '/.well-known/openid-configuration')).toBe(true);
    expect(JSON.stringify(trace)).not.toContain(QUERY_MARK);
  });
});

describe('with no OTEL_* variable set', () => {
  let svc: ServiceProcess;
  const incoming = traceparent();
  let requestId: string;

  beforeAll(async () => {
    const sector = sectorRoute('/sector-untraced.json');
    svc = await startService(serviceEnv({}));
    requestId = await registered(
      await register(svc, { client_name: 'untraced', redirect_uris: [CALLBACK], sector_identifier_uri: sector }, await mintIat(svc), {
        traceparent: incoming.header,
      }),
    );
    await svc.stop();
  }, 60_000);

  it('never loads the OpenTelemetry SDK or an instrumentation', () => {
    // Node's module log of CommonJS loads is there (the positive control: pg's files are in it)...
    expect(svc.stderr.some((line) => line.includes('node_modules/pg/lib/'))).toBe(true);
    // ...and names no file of the SDK or of an instrumentation.
    expect(svc.stderr.filter((line) => SDK_MODULE.test(line))).toEqual([]);
  });

  it('propagates nothing: the server-side fetch carries no traceparent, though the request had one', () => {
    expect(fetchedWith.get('/sector-untraced.json')).toEqual([undefined]);
  });

  it('writes no trace fields into any log line', () => {
    expect(accessLine(svc, requestId)).toMatchObject({ req: { path: '/oauth2/register' }, res: { status: 201 } });
    const lines = jsonLines(svc);
    expect(lines.length).toBeGreaterThan(2);
    expect(lines.filter((l) => 'trace_id' in l || 'span_id' in l)).toEqual([]);
  });
});
