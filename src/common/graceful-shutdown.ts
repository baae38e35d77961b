// SIGTERM: readiness turns 503 first (serve.shutdown_delay lets load balancers
// notice), then Nest stops the server, which finishes in-flight requests; any
// connection still open after serve.shutdown_timeout is closed, and the
// database is closed last. The admin listener, when there is one, is drained alike.
import { Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Server } from 'node:http';
import { ConfigService } from '../config/config.service.js';
import { AdminListener } from './admin-listener.js';
import { AppLogger } from './logging.js';

@Injectable()
export class GracefulShutdown implements BeforeApplicationShutdown {
  private drainingSince?: number;

  constructor(
    private readonly config: ConfigService,
    private readonly adapterHost: HttpAdapterHost,
    private readonly adminListener: AdminListener,
    private readonly logger: AppLogger,
  ) {}

  get draining(): boolean {
    return this.drainingSince !== undefined;
  }

  async beforeApplicationShutdown(signal?: string): Promise<void> {
    this.drainingSince = Date.now();
    const delay = this.config.get('serve.shutdown_delay') * 1000;
    this.logger.info(
      { signal, delay_ms: delay, timeout_ms: this.config.get('serve.shutdown_timeout') * 1000 },
      'shutting down: readiness answers 503, in-flight requests finish',
    );
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    const servers = [this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined, this.adminListener.server].filter(
      (s): s is Server => s !== undefined,
    );
    const timeout = this.config.get('serve.shutdown_timeout') * 1000;
    if (servers.length === 0) return;
    // Keep-alive connections go idle as their last request finishes: close them as they do.
    const sweep = setInterval(() => servers.forEach((s) => s.closeIdleConnections()), 50).unref();
    setTimeout(() => {
      clearInterval(sweep);
      servers.forEach((s) => s.closeAllConnections());
    }, timeout).unref();
  }
}
