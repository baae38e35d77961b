// Prometheus metrics (prom-client), one registry per application instance.
import { Controller, Get, Header, Injectable } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly httpRequests = new Counter({
    name: 'registrar_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  readonly httpDuration = new Histogram({
    name: 'registrar_http_request_duration_seconds',
    help: 'HTTP request latency by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly registrations = new Counter({
    name: 'registrar_registrations_total',
    help: 'Clients registered through RFC 7591',
    registers: [this.registry],
  });

  readonly rejectedRegistrations = new Counter({
    name: 'registrar_registrations_rejected_total',
    help: 'Refused RFC 7591 registrations by OAuth error code',
    labelNames: ['error'] as const,
    registers: [this.registry],
  });

  readonly tokensIssued = new Counter({
    name: 'registrar_tokens_issued_total',
    help: 'Access tokens issued by format and grant type',
    labelNames: ['format', 'grant_type'] as const,
    registers: [this.registry],
  });

  readonly initialAccessTokenUses = new Counter({
    name: 'registrar_initial_access_token_uses_total',
    help: 'Initial access token uses (each one created a client)',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'registrar_' });
  }
}

@ApiExcludeController()
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  @Header('Cache-Control', 'no-store')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
