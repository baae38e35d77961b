// CORS for the endpoints browser-based clients call: registration, token,
// introspection, revocation, discovery and JWKS. Admin routes never answer
// cross-origin requests.
import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { ConfigService } from '../config/config.service.js';

const PUBLIC_PREFIXES = ['/oauth2/register', '/oauth2/token', '/oauth2/introspect', '/oauth2/revoke', '/.well-known/'];

@Injectable()
export class CorsMiddleware implements NestMiddleware {
  private readonly origins: Set<string>;
  private readonly any: boolean;

  constructor(config: ConfigService) {
    const configured = config.get('serve.public.cors.allowed_origins') as string[];
    this.any = configured.includes('*');
    this.origins = new Set(configured.map((o) => o.replace(/\/+$/, '')));
  }

  use(req: Request, res: Response, next: NextFunction): void {
    const origin = req.headers.origin;
    // originalUrl: Nest mounts middleware under a wildcard, so req.path is relative to it.
    const path = req.originalUrl.split('?')[0];
    const eligible = PUBLIC_PREFIXES.some((p) => path === p || path.startsWith(p.endsWith('/') ? p : `${p}/`));
    if (!origin || !eligible || !(this.any || this.origins.has(origin))) {
      next();
      return;
    }
    res.setHeader('Access-Control-Allow-Origin', this.any ? '*' : origin);
    res.append('Vary', 'Origin');
    res.setHeader('Access-Control-Expose-Headers', 'X-Request-Id, Retry-After, WWW-Authenticate');
    if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST, PUT, DELETE');
      res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, X-Request-Id');
      res.setHeader('Access-Control-Max-Age', '600');
      res.status(204).end();
      return;
    }
    next();
  }
}
