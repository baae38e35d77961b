// Operating many clients at once (README "Operating a fleet of dynamic
// clients"): suspending and resuming one client, and bulk actions on every
// client a filter matches, counted first by a dry run.
import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import { type ClientFilter, filterFromBody, isEmptyFilter } from '../clients/client-filter.js';
import { BULK_ACTIONS, type BulkAction } from '../clients/client-filter.dto.js';
import { MAX_SUSPENSION_REASON } from '../clients/client-suspension.js';
import type { IssuedClient } from '../clients/client-views.js';
import { ClientsRepository } from '../clients/clients.repository.js';
import { ClientsService } from '../clients/clients.service.js';
import { AppLogger } from '../common/logging.js';
import { OAuthError } from '../common/oauth-error.js';
import { Database } from '../database/database.js';
import { AccessTokenCache } from '../tokens/access-token-cache.js';
import { GrantsService } from '../tokens/grants.service.js';
import { FleetRepository } from './fleet.repository.js';

/** Clients acted on per transaction: row locks stay brief, and a failure leaves whole batches done. */
const BATCH = 500;
const DRY_RUN_SAMPLE = 100;
const BULK_FIELDS = ['filter', 'action', 'dry_run', 'reason', 'all'];

export interface BulkRequest {
  filter: ClientFilter;
  action: BulkAction;
  dryRun: boolean;
  reason: string | null;
}

export interface BulkResult {
  matched: number;
  applied?: number;
  sample?: string[];
}

/** A reason given with a suspension: optional, bounded. */
export function suspensionReason(value: unknown, name = 'reason'): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || value.trim() === '' || value.length > MAX_SUSPENSION_REASON) {
    throw new OAuthError('invalid_request', `${name} must be a non-empty string of at most ${MAX_SUSPENSION_REASON} characters`);
  }
  return value;
}

/** Reads a bulk request; every field is checked, an unknown one refused. */
export function parseBulkRequest(body: Record<string, unknown>): BulkRequest {
  const unknown = Object.keys(body).filter((name) => !BULK_FIELDS.includes(name));
  if (unknown.length > 0) throw new OAuthError('invalid_request', `${unknown[0]} is not a field of a bulk request; the fields are ${BULK_FIELDS.join(', ')}`);
  const action = body.action;
  if (typeof action !== 'string' || !(BULK_ACTIONS as readonly string[]).includes(action)) {
    throw new OAuthError('invalid_request', `action must be one of ${BULK_ACTIONS.join(', ')}`);
  }
  for (const flag of ['dry_run', 'all']) {
    if (body[flag] !== undefined && typeof body[flag] !== 'boolean') throw new OAuthError('invalid_request', `${flag} must be true or false`);
  }
  if (body.reason !== undefined && action !== 'suspend') throw new OAuthError('invalid_request', 'reason applies to the suspend action only');
  const filter = filterFromBody(body.filter);
  if (isEmptyFilter(filter) && body.all !== true) {
    throw new OAuthError(
      'invalid_request',
      'filter is empty, which matches every client: name at least one filter, or send "all": true to act on every client',
    );
  }
  if (!isEmptyFilter(filter) && body.all === true) {
    throw new OAuthError('invalid_request', 'all: true acts on every client and cannot be combined with a filter');
  }
  return { filter, action: action as BulkAction, dryRun: body.dry_run === true, reason: suspensionReason(body.reason) };
}

@Injectable()
export class FleetService {
  constructor(
    private readonly database: Database,
    private readonly clients: ClientsService,
    private readonly repository: ClientsRepository,
    private readonly tokens: FleetRepository,
    private readonly grants: GrantsService,
    private readonly logger: AppLogger,
    private readonly audit: AuditService,
    private readonly tokenCache: AccessTokenCache,
  ) {}

  /** Suspends one client; a suspended one keeps its suspended_at and takes the new reason, if one is given. */
  async suspend(id: string, reason: string | null): Promise<IssuedClient> {
    await this.clients.get(id);
    await this.database.transaction(async () => {
      await this.repository.suspend([id], reason, true);
      await this.audit.record({ type: 'client.suspended', clientId: id, details: { reason } });
    });
    await this.clients.invalidate(id);
    this.logger.info({ client_id: id }, 'client suspended');
    return { client: await this.clients.get(id) };
  }

  /** Lifts a suspension: the client's tokens that have not expired (nor been revoked) work again. */
  async resume(id: string): Promise<IssuedClient> {
    await this.clients.get(id);
    const resumed = await this.database.transaction(async () => {
      const ids = await this.repository.resume([id]);
      if (ids.length > 0) await this.audit.record({ type: 'client.resumed', clientId: id });
      return ids.length > 0;
    });
    if (resumed) this.logger.info({ client_id: id }, 'client resumed');
    await this.clients.invalidate(id);
    return { client: await this.clients.get(id) };
  }

  /** A dry run counts and changes nothing; a real run acts in batches, one transaction each. */
  async bulk(request: BulkRequest): Promise<BulkResult> {
    if (request.dryRun) {
      return {
        matched: await this.repository.count(request.filter),
        sample: await this.repository.matchingIds(request.filter, DRY_RUN_SAMPLE),
      };
    }
    let matched = 0;
    let applied = 0;
    let after: string | undefined;
    try {
      for (;;) {
        const batch = await this.database.transaction(async () => {
          const ids = await this.repository.matchingIds(request.filter, BATCH, after, true);
          return { ids, applied: ids.length > 0 ? await this.apply(request, ids) : 0 };
        });
        matched += batch.ids.length;
        applied += batch.applied;
        if (batch.ids.length < BATCH) break;
        after = batch.ids[batch.ids.length - 1];
      }
    } finally {
      // Also after a failure: the batches already committed changed clients.
      if (matched > 0) await this.clients.invalidateAll();
    }
    this.logger.info({ action: request.action, matched, applied }, 'bulk client action');
    await this.audit.record({ type: 'bulk.action', details: { action: request.action, matched, applied } });
    return { matched, applied };
  }

  /** The action on one locked batch; returns how many clients it changed. */
  private async apply(request: BulkRequest, ids: string[]): Promise<number> {
    switch (request.action) {
      case 'suspend':
        return (await this.repository.suspend(ids, request.reason)).length;
      case 'resume':
        return (await this.repository.resume(ids)).length;
      case 'delete':
        // The clients' opaque tokens go with them: this instance forgets any it cached once the batch commits.
        await this.tokenCache.invalidate();
        // Initial access token uses and policies' clients_created count registrations, not live clients: a delete leaves them be.
        return (await this.repository.deleteIds(ids)).length;
      case 'revoke_tokens': {
        const cut = await this.repository.cutOffJwts(ids);
        await this.tokens.revokeOpaqueAccessTokens(ids);
        await this.tokenCache.invalidate();
        // Refresh tokens, and the access tokens (JWTs listed by grant included) issued from them.
        await this.grants.revokeGrants(await this.tokens.liveGrantIds(ids));
        return cut.length;
      }
    }
  }
}
