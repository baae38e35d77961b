// Request-level plumbing applied to every route as Nest middleware, so that any
// failure here is rendered by the one exception filter.
import { randomUUID } from 'node:crypto';
import { Injectable, type NestMiddleware } from '@nestjs/common';
import express, { type NextFunction, type Request, type Response } from 'express';
import { ConfigService } from '../config/config.service.js';
import { JsonLogger } from './json-logger.js';
import { MetricsService } from './metrics.js';
import { OAuthError } from './oauth-error.js';

export type RequestWithId = Request & { id?: string };

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Accepts or assigns X-Request-Id, echoes it, and writes one JSON access-log line per request. */
@Injectable()
export class RequestContextMiddleware implements NestMiddleware {
  constructor(
    private readonly logger: JsonLogger,
    private readonly metrics: MetricsService,
  ) {}

  use(req: RequestWithId, res: Response, next: NextFunction): void {
    const offered = req.header('x-request-id');
    req.id = offered && SAFE_REQUEST_ID.test(offered) ? offered : randomUUID();
    res.setHeader('X-Request-Id', req.id);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      // Only the path: query strings may carry challenges or tokens.
      this.logger.emit('info', 'request', {
        request_id: req.id,
        method: req.method,
        path: req.originalUrl.split('?')[0],
        status: res.statusCode,
        duration_ms: Math.round(seconds * 1e6) / 1000,
      });
      // The route pattern, not the path, keeps label values few (no client ids).
      const labels = { method: req.method, route: (req.route as { path?: string } | undefined)?.path ?? 'unmatched', status: String(res.statusCode) };
      this.metrics.httpRequests.inc(labels);
      this.metrics.httpDuration.observe(labels, seconds);
      if (req.method === 'POST' && labels.route === '/oauth2/register' && res.statusCode !== 201) {
        this.metrics.rejectedRegistrations.inc({ error: String(res.locals.oauthError ?? res.statusCode) });
      }
    });
    next();
  }
}

const JSON_TYPES = ['application/json', 'application/*+json'];
const FORM_TYPE = 'application/x-www-form-urlencoded';

/** Parses JSON and form bodies within the configured size; refuses other media types with 415. */
@Injectable()
export class BodyParserMiddleware implements NestMiddleware {
  private readonly json: express.RequestHandler;
  private readonly form: express.RequestHandler;

  constructor(config: ConfigService) {
    const limit = config.get('serve.public.request_body_limit') as number;
    this.json = express.json({ limit, type: JSON_TYPES, strict: true });
    this.form = express.urlencoded({ limit, extended: false, parameterLimit: 100 });
  }

  async use(req: Request, res: Response, next: NextFunction): Promise<void> {
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (hasBody) {
      const parser = req.is(JSON_TYPES) ? this.json : req.is(FORM_TYPE) ? this.form : undefined;
      if (!parser) {
        throw new OAuthError('unsupported_media_type', 'Content-Type must be application/json or application/x-www-form-urlencoded');
      }
      await new Promise<void>((resolve, reject) => parser(req, res, (err?: unknown) => (err ? reject(err) : resolve())));
    }
    next();
  }
}
