// Request-level plumbing applied to every route as Nest middleware, so that any
// failure here is rendered by the one exception filter.
import { Injectable, type NestMiddleware } from '@nestjs/common';
import express, { type NextFunction, type Request, type Response } from 'express';
import { ConfigService } from '../config/config.service.js';
import { MetricsService } from './metrics.js';
import { OAuthError } from './oauth-error.js';

/** Request counts and latency per route pattern and status (request ids and logs come from pino-http). */
@Injectable()
export class RequestMetricsMiddleware implements NestMiddleware {
  constructor(private readonly metrics: MetricsService) {}

  use(req: Request, res: Response, next: NextFunction): void {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
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
