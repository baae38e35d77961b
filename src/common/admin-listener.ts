// The private admin listener (serve.admin.port; README "Operating Registrar", Admin listener): a second
// HTTP server feeding the same Fastify instance, so both ports share one set of
// providers and one database pool. A request is told apart by the server that
// accepted it, and each port answers only its own routes (404 for the others).
import { Injectable } from '@nestjs/common';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';

/** Routes served only by the admin listener when there is one: the admin API, metrics and the API documentation. */
const ADMIN_ONLY = /^\/(?:admin|metrics|docs)(?:\/|$)|^\/docs-(?:json|yaml)$/;

export function isAdminOnlyPath(path: string): boolean {
  return ADMIN_ONLY.test(path);
}

@Injectable()
export class AdminListener {
  private listener?: Server;
  private readonly accepted = new WeakSet<IncomingMessage>();

  /** The admin server once listening (the graceful shutdown drains it with the public one). */
  get server(): Server | undefined {
    return this.listener;
  }

  /** Whether the admin listener, rather than the public one, accepted this request. */
  accepts(req: IncomingMessage): boolean {
    return this.accepted.has(req);
  }

  /** Must run before the app starts: the admin server is closed whenever Fastify is. */
  attach(fastify: FastifyInstance): void {
    fastify.addHook('onClose', () => this.close());
  }

  async listen(fastify: FastifyInstance, port: number, host: string, onClientError: (err: Error, socket: Socket) => void): Promise<void> {
    const server = createServer((req, res) => {
      this.accepted.add(req);
      fastify.routing(req, res);
    });
    // The same connection limits as the public server.
    const main = fastify.server;
    server.keepAliveTimeout = main.keepAliveTimeout;
    server.headersTimeout = main.headersTimeout;
    server.requestTimeout = main.requestTimeout;
    server.timeout = main.timeout;
    server.on('clientError', onClientError);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.listener = server;
  }

  /** Stops accepting and resolves once the admin requests in flight have finished. */
  async close(): Promise<void> {
    const server = this.listener;
    if (!server?.listening) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
