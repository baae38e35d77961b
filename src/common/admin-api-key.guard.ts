import { applyDecorators, Injectable, UseGuards, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { ApiErrorResponse } from './api-responses.js';
import type { HttpRequest } from './http.js';
import { ConfigService } from '../config/config.service.js';
import { bearerToken, invalidBearer } from './bearer.js';
import { matchesAny } from './secrets.js';

export const ADMIN_SECURITY = 'admin-api-key';

/** Every /admin route: `Authorization: Bearer <one of admin.api_keys>`, compared in constant time. */
@Injectable()
export class AdminApiKeyGuard implements CanActivate {
  constructor(private readonly config: ConfigService) {}

  canActivate(context: ExecutionContext): boolean {
    const token = bearerToken(context.switchToHttp().getRequest<HttpRequest>());
    if (!token || !matchesAny(token, this.config.adminApiKeys())) throw invalidBearer(token !== undefined);
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
