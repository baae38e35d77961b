import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import { invalidBearer } from '../common/bearer.js';
import { OAuthError } from '../common/oauth-error.js';
import type { PageRequest } from '../common/pagination.js';
import { randomToken, tokenHash } from '../common/secrets.js';
import { parseDuration } from '../config/parsers.js';
import { Database } from '../database/database.js';
import { DatabaseEvents } from '../database/database-events.js';
import type { InitialAccessTokenDto, MintInitialAccessTokenDto } from './initial-access-token.dto.js';
import { InitialAccessTokenEntity } from './initial-access-token.entity.js';
import { InitialAccessTokensRepository } from './initial-access-tokens.repository.js';
import { PoliciesService } from './policies.service.js';

/** Signalled to every instance when a token is revoked or used up: their caches of tokens are dropped. */
const IAT_CHANGED = 'iat-changed';
/** How long a token read for a registration is reused (README "Performance"). */
const IAT_CACHE_MS = 5_000;
const IAT_CACHE_MAX = 1_000;

@Injectable()
export class InitialAccessTokensService {
  /**
   * Tokens read for registrations, by hash. Only the guard's answer is taken
   * from here: the statement that stores a client takes its token's use only if
   * the token still exists, is unexpired and has a use left, and a
   * re-registration reads the token again; so a token revoked or used up
   * meanwhile still creates nothing. A token revoked or used up drops every
   * entry here and, through NOTIFY, in every other instance, so that it is
   * refused as before: with the 401, ahead of any other check.
   */
  private readonly cache = new Map<string, { iat: InitialAccessTokenEntity; until: number }>();
  /** Bumped by every revocation or use that used a token up, so a read that raced one is not cached. */
  private generation = 0;

  constructor(
    private readonly iats: InitialAccessTokensRepository,
    private readonly policies: PoliciesService,
    private readonly database: Database,
    private readonly audit: AuditService,
    private readonly events: DatabaseEvents,
  ) {
    events.subscribe(IAT_CHANGED, () => {
      this.generation += 1;
      this.cache.clear();
    });
  }

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
      await this.database.afterCommit(() => this.forgetAll());
    });
  }

  /** After a token was revoked or used up: every instance reads tokens afresh. */
  async forgetAll(): Promise<void> {
    this.generation += 1;
    this.cache.clear();
    // Should the signal fail, the other instances' entries still end within IAT_CACHE_MS.
    await this.events.publish(IAT_CHANGED).catch(() => undefined);
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
    const hash = tokenHash(token);
    const now = Date.now();
    const hit = this.cache.get(hash);
    if (hit && hit.until > now && (hit.iat.expiresAt === null || hit.iat.expiresAt.getTime() > now)) return hit.iat;
    const generation = this.generation;
    const iat = await this.iats.findUnexpiredByTokenHash(hash);
    if (!iat) {
      this.cache.delete(hash);
      throw unusable();
    }
    // Only while revocations are known to arrive from every instance (DatabaseEvents.live).
    if (this.events.live && generation === this.generation) {
      if (this.cache.size >= IAT_CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(hash, { iat, until: now + IAT_CACHE_MS });
    }
    return iat;
  }

  /** Read again where a token's use is not taken (a re-registration): revoked or expired since, it is the same 401. */
  async assertStillUnexpired(iat: InitialAccessTokenEntity): Promise<void> {
    if (!(await this.iats.isUnexpired(iat.id))) throw unusable();
  }

  /** A used-up token gets the same 401 as an unknown one. */
  assertUsesLeft(iat: InitialAccessTokenEntity): void {
    if (iat.uses >= iat.maxUses) throw unusable();
  }

  /** Counts a use inside the registration's transaction; a token used up meanwhile gets the same 401. */
  async consumeUse(iat: InitialAccessTokenEntity): Promise<void> {
    const taken = await this.iats.consumeUse(iat.id);
    if (!taken) throw unusable();
    if (taken.usedUp) await this.database.afterCommit(() => this.forgetAll());
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
