// Registrations per caller address (oidc.dynamic_client_registration.rate_limit),
// counted where every instance sees the same numbers: PostgreSQL by default,
// Redis when redis.url is set.
import { Injectable, type CanActivate, type ExecutionContext, type OnApplicationShutdown } from '@nestjs/common';
import type { HttpRequest } from '../common/http.js';
import type { Redis } from 'ioredis';
import { AppLogger } from '../common/logging.js';
import { OAuthError } from '../common/oauth-error.js';
import { ConfigService } from '../config/config.service.js';
import { RateLimitRepository } from './rate-limit.repository.js';

@Injectable()
export class RateLimiter implements OnApplicationShutdown {
  /** Loaded only when redis.url is set (the client library is a few MiB of memory). */
  private redis?: Promise<Redis>;

  constructor(
    private readonly windows: RateLimitRepository,
    config: ConfigService,
    private readonly logger: AppLogger,
  ) {
    const url = config.get('redis.url');
    if (url) {
      this.redis = import('ioredis').then(({ Redis }) => {
        const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: true, connectTimeout: 2000 });
        client.on('error', () => undefined); // reported per call below
        return client;
      });
    }
  }

  /** Counts one hit in the current fixed window; returns the count so far and the seconds until the window ends. */
  async hit(key: string, windowSeconds: number): Promise<{ count: number; retryAfter: number }> {
    const now = Math.floor(Date.now() / 1000);
    const windowStart = now - (now % windowSeconds);
    const retryAfter = windowStart + windowSeconds - now;
    if (this.redis) {
      try {
        const redisKey = `registrar:rl:${key}:${windowStart}`;
        const redis = await this.redis;
        const [[, count]] = (await redis.multi().incr(redisKey).expire(redisKey, windowSeconds + 1).exec()) as [[unknown, number]];
        return { count, retryAfter };
      } catch (err) {
        // Redis unreachable: count in PostgreSQL rather than stop counting.
        this.logger.warn({ error: (err as Error).message }, 'rate limit falls back to PostgreSQL');
      }
    }
    return { count: await this.windows.hit(key, windowStart), retryAfter };
  }

  async onApplicationShutdown(): Promise<void> {
    (await this.redis)?.disconnect();
  }
}

/** 429 with Retry-After once a caller address exceeds the registration rate. */
@Injectable()
export class RegistrationRateLimitGuard implements CanActivate {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly config: ConfigService,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const limit = this.config.get('oidc.dynamic_client_registration.rate_limit');
    if (!limit) return true;
    // req.ip honours X-Forwarded-For only from serve.public.trusted_proxies (express "trust proxy").
    const req = context.switchToHttp().getRequest<HttpRequest>();
    const { count, retryAfter } = await this.limiter.hit(`register:${req.ip ?? 'unknown'}`, limit.windowSeconds);
    if (count > limit.limit) {
      throw new OAuthError('too_many_requests', `more than ${limit.limit} registrations from this address; retry in ${retryAfter} s`, {
        headers: { 'Retry-After': String(retryAfter) },
      });
    }
    return true;
  }
}
