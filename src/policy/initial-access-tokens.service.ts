import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import { invalidBearer } from '../common/bearer.js';
import { OAuthError } from '../common/oauth-error.js';
import type { PageRequest } from '../common/pagination.js';
import { randomToken, tokenHash } from '../common/secrets.js';
import { parseDuration } from '../config/parsers.js';
import { Database } from '../database/database.js';
import type { InitialAccessTokenDto, MintInitialAccessTokenDto } from './initial-access-token.dto.js';
import { InitialAccessTokenEntity } from './initial-access-token.entity.js';
import { InitialAccessTokensRepository } from './initial-access-tokens.repository.js';
import { PoliciesService } from './policies.service.js';

@Injectable()
export class InitialAccessTokensService {
  constructor(
    private readonly iats: InitialAccessTokensRepository,
    private readonly policies: PoliciesService,
    private readonly database: Database,
    private readonly audit: AuditService,
  ) {}

  async mint(dto: MintInitialAccessTokenDto): Promise<{ iat: InitialAccessTokenEntity; token: string }> {
    const policies = dto.policies ?? [];
    await this.policies.assertKnown(policies);
    const token = randomToken(32);
    const iat = new InitialAccessTokenEntity();
    iat.id = randomUUID();
    iat.tokenHash = tokenHash(token);
    iat.description = dto.description ?? '';
    iat.policies = policies;
    iat.maxUses = dto.max_uses ?? 1;
    iat.uses = 0;
    const expiresIn = dto.expires_in === undefined ? undefined : parseDuration(dto.expires_in);
    iat.expiresAt = expiresIn ? new Date(Date.now() + expiresIn * 1000) : null;
    iat.createdAt = new Date();
    await this.database.transaction(async () => {
      await this.iats.insert(iat);
      await this.audit.record({
        type: 'admin.iat.minted',
        details: { iat_id: iat.id, max_uses: iat.maxUses, policies: iat.policies, expires_at: iat.expiresAt?.toISOString() ?? null },
      });
    });
    return { iat, token };
  }

  async get(id: string): Promise<InitialAccessTokenEntity> {
    const iat = await this.iats.findById(id);
    if (!iat) throw new OAuthError('not_found', `initial access token ${id} does not exist`);
    return iat;
  }

  list(page: PageRequest): Promise<InitialAccessTokenEntity[]> {
    return this.iats.page(page);
  }

  revoke(id: string): Promise<void> {
    return this.database.transaction(async () => {
      if (!(await this.iats.deleteById(id))) throw new OAuthError('not_found', `initial access token ${id} does not exist`);
      await this.audit.record({ type: 'admin.iat.revoked', details: { iat_id: id } });
    });
  }

  /** The usable token with this value; unknown, expired, revoked and used-up tokens all get the same 401. */
  async authenticate(token: string): Promise<InitialAccessTokenEntity> {
    const iat = await this.iats.findUsableByTokenHash(tokenHash(token));
    if (!iat) throw unusable();
    return iat;
  }

  /**
   * The unexpired token with this value, used up or not; the registration
   * refuses a used-up one (assertUsesLeft) unless the request may be a
   * re-registration, which creates no client.
   */
  async authenticateForRegistration(token: string): Promise<InitialAccessTokenEntity> {
    const iat = await this.iats.findUnexpiredByTokenHash(tokenHash(token));
    if (!iat) throw unusable();
    return iat;
  }

  /** A used-up token gets the same 401 as an unknown one. */
  assertUsesLeft(iat: InitialAccessTokenEntity): void {
    if (iat.uses >= iat.maxUses) throw unusable();
  }

  /** Counts a use inside the registration's transaction; a token used up meanwhile gets the same 401. */
  async consumeUse(iat: InitialAccessTokenEntity): Promise<void> {
    if (!(await this.iats.consumeUse(iat.id))) throw unusable();
  }

  /** The 401 of a token that is unknown, expired, revoked or used up. */
  unusable(): Error {
    return unusable();
  }

}

function unusable(): Error {
  return invalidBearer(true, 'the initial access token is unknown, expired, revoked or used up');
}

export function iatView(iat: InitialAccessTokenEntity, token?: string): InitialAccessTokenDto {
  return {
    id: iat.id,
    ...(token !== undefined ? { token } : {}),
    description: iat.description,
    policies: iat.policies,
    max_uses: iat.maxUses,
    uses: iat.uses,
    expires_at: iat.expiresAt ? iat.expiresAt.toISOString() : null,
    created_at: iat.createdAt.toISOString(),
  };
}
