import { createHmac } from 'node:crypto';
import { applyDecorators, Injectable, UseGuards, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { ApiErrorResponse } from './api-responses.js';
import type { HttpRequest } from './http.js';
import { ConfigService } from '../config/config.service.js';
import { bearerToken, invalidBearer } from './bearer.js';
import { matchesAny } from './secrets.js';

export const ADMIN_SECURITY = 'admin-api-key';

/** A request the admin key guard let through, with the id of the key it presented. */
export type AdminRequest = HttpRequest & { adminKeyId?: string };

/**
 * A non-secret name for an admin API key, for audit events (README "Audit
 * events"): a short HMAC under the first system secret, so it reveals nothing
 * of the key and cannot be checked against a guess without that secret.
 */
export function adminKeyId(key: string, systemSecret: string): string {
  return createHmac('sha256', systemSecret).update(`registrar admin key id\n${key}`).digest('hex').slice(0, 16);
}

/** Every /admin route: `Authorization: Bearer <one of admin.api_keys>`, compared in constant time. */
@Injectable()
export class AdminApiKeyGuard implements CanActivate {
  constructor(private readonly config: ConfigService) {}

  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<AdminRequest>();
    const token = bearerToken(req);
    if (!token || !matchesAny(token, this.config.adminApiKeys())) throw invalidBearer(token !== undefined);
    req.adminKeyId = adminKeyId(token, this.config.systemSecrets()[0]);
    return true;
  }
}

/** What every admin controller carries: its Swagger group, the admin key scheme and its 401, and the guard. */
export function AdminApi(tag: string): ClassDecorator {
  return applyDecorators(
    ApiTags(tag),
    ApiBearerAuth(ADMIN_SECURITY),
    ApiErrorResponse(401, 'Missing or wrong admin API key', { invalid_token: ['invalid_token', 'missing or invalid bearer token'] }),
    UseGuards(AdminApiKeyGuard),
  );
}
