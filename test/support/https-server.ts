// A local HTTPS server for tests of server-side fetches (sector_identifier_uri,
// jwks_uri, trusted issuers' key sets). Its certificate is self-signed and made
// at test time with the openssl CLI, so nothing secret lives in the repository;
// callers trust it through `caPem` / `caFile` (FETCH_CA_FILE).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface TestHttpsServer {
  /** https://127.0.0.1:<port>, without a trailing slash. */
  url: string;
  port: number;
  /** The self-signed certificate, which is its own CA. */
  caPem: string;
  /** Path of cert.pem, for FETCH_CA_FILE. */
  caFile: string;
  /** Registers (or replaces) the handler of an exact path; unknown paths answer 404. */
  route(path: string, handler: RouteHandler): void;
  /** Paths of every request received, in order (query strings included). */
  requests: string[];
  /** How many requests asked for `path` (query string ignored). */
  hits(path: string): number;
  /** TCP connections accepted, whether or not a request followed. */
  connections(): number;
  close(): Promise<void>;
}

/** Serves JSON with Content-Length. */
export function sendJson(res: ServerResponse, body: unknown, status = 200): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export async function startHttpsServer(): Promise<TestHttpsServer> {
  const dir = mkdtempSync(join(tmpdir(), 'registrar-https-'));
  const keyFile = join(dir, 'key.pem');
  const caFile = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost',
      '-keyout',
      keyFile,
      '-out',
      caFile,
    ],
    { stdio: 'pipe' },
  );
  const caPem = readFileSync(caFile, 'utf8');
  const routes = new Map<string, RouteHandler>();
  const requests: string[] = [];
  let connections = 0;

  const server = createServer({ key: readFileSync(keyFile), cert: caPem }, (req, res) => {
    const path = req.url ?? '/';
    requests.push(path);
    const handler = routes.get(path.split('?')[0]);
    if (!handler) {
      sendJson(res, { error: 'not_found' }, 404);
      return;
    }
    // A client that gives up mid-response must not crash the test run.
    res.on('error', () => undefined);
    handler(req, res);
  });
  server.on('connection', () => {
    connections += 1;
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `https://127.0.0.1:${port}`,
    port,
    caPem,
    caFile,
    route(path, handler) {
      routes.set(path, handler);
    },
    requests,
    hits: (path) => requests.filter((p) => p.split('?')[0] === path).length,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          rmSync(dir, { recursive: true, force: true });
          resolve();
        });
      }),
  };
}
