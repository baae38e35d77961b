import { Injectable } from '@nestjs/common';
import type { Repository, SelectQueryBuilder } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import type { PageRequest } from '../common/pagination.js';
import { Database } from '../database/database.js';
import type { ClientFilter } from './client-filter.js';
import { ClientEntity } from './client.entity.js';

/** Narrows a query on clients (alias `c`) to a filter; every filter has an index (migration 1764270000000). */
function applyFilter(qb: SelectQueryBuilder<ClientEntity>, filter: ClientFilter): SelectQueryBuilder<ClientEntity> {
  if (filter.clientName !== undefined) qb.andWhere(`c.fields->>'client_name' = :clientName`, { clientName: filter.clientName });
  if (filter.owner !== undefined) qb.andWhere(`c.fields->>'owner' = :owner`, { owner: filter.owner });
  if (filter.initialAccessTokenId !== undefined) qb.andWhere('c.initial_access_token_id = :iat', { iat: filter.initialAccessTokenId });
  if (filter.policy !== undefined) qb.andWhere('c.registration_policies @> jsonb_build_array(CAST(:policy AS text))', { policy: filter.policy });
  if (filter.softwareId !== undefined) {
    qb.andWhere(`c.fields ? 'software_id' AND c.fields->>'software_id' = :softwareId`, { softwareId: filter.softwareId });
  }
  if (filter.softwareStatementIssuer !== undefined) {
    qb.andWhere('c.software_statement_issuer = :statementIssuer', { statementIssuer: filter.softwareStatementIssuer });
  }
  if (filter.createdVia !== undefined) qb.andWhere('c.created_via = :createdVia', { createdVia: filter.createdVia });
  if (filter.lastUsedBefore !== undefined) qb.andWhere('c.last_used_at < :usedBefore', { usedBefore: filter.lastUsedBefore });
  if (filter.lastUsedAfter !== undefined) qb.andWhere('c.last_used_at > :usedAfter', { usedAfter: filter.lastUsedAfter });
  if (filter.suspended !== undefined) qb.andWhere(`c.suspended_at IS ${filter.suspended ? 'NOT ' : ''}NULL`);
  return qb;
}

function secretColumns(client: ClientEntity): Partial<ClientEntity> {
  return {
    secretHash: client.secretHash,
    secretExpiresAt: client.secretExpiresAt,
    secretCreatedAt: client.secretCreatedAt,
    secretEncrypted: client.secretEncrypted,
    rotatedSecrets: client.rotatedSecrets,
  };
}

/** Queries on the clients table; every one joins the ambient transaction when there is one. */
@Injectable()
export class ClientsRepository {
  constructor(private readonly database: Database) {}

  private repo(): Repository<ClientEntity> {
    return this.database.manager().getRepository(ClientEntity);
  }

  /** Whether any client lists the origin in allowed_cors_origins (for CORS preflights). */
  async anyAllowsOrigin(origin: string): Promise<boolean> {
    const rows = await this.database.run<{ found: number }>(
      'client_allows_origin',
      `SELECT 1 AS found FROM clients WHERE fields->'allowed_cors_origins' @> jsonb_build_array($1::text) LIMIT 1`,
      [origin],
    );
    return rows.length > 0;
  }

  async findById(id: string): Promise<ClientEntity | null> {
    const rows = await this.database.run('client_by_id', 'SELECT * FROM clients WHERE id = $1', [id]);
    return rows[0] ? this.database.entityFromRow(ClientEntity, rows[0]) : null;
  }

  /** Reads a client and locks its row until the ambient transaction ends. */
  findByIdForUpdate(id: string): Promise<ClientEntity | null> {
    return this.repo().findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
  }

  /** Inserts a new client; a duplicate id surfaces as the driver's unique violation (23505). */
  async insert(client: ClientEntity): Promise<void> {
    // jsonb columns hold free-form objects, which TypeORM's partial-entity type cannot express.
    await this.repo().insert(client as QueryDeepPartialEntity<ClientEntity>);
  }

  /**
   * Writes a client's metadata, secret and strategy. The registration access
   * token is deliberately not written here: only its rotation (in the
   * registration module) changes it, so an admin update racing an RFC 7592 update cannot bring back
   * a token that was just rotated away.
   */
  async updateMetadata(client: ClientEntity, secretsChanged: boolean): Promise<void> {
    // Secrets are written only when this update changed them, so that an update
    // racing a rotation cannot bring back the secret the rotation replaced.
    await this.repo().update({ id: client.id }, {
      fields: client.fields,
      ...(secretsChanged ? secretColumns(client) : {}),
      accessTokenStrategy: client.accessTokenStrategy,
      updatedAt: client.updatedAt,
    } as QueryDeepPartialEntity<ClientEntity>);
  }

  /** Writes a client's secrets only (a rotation); call it on a row locked by findByIdForUpdate. */
  async updateSecrets(client: ClientEntity): Promise<void> {
    await this.repo().update({ id: client.id }, { ...secretColumns(client), updatedAt: client.updatedAt } as QueryDeepPartialEntity<ClientEntity>);
  }

  /** Records use, unless it was recorded within the last `intervalSeconds`. */
  async touch(id: string, intervalSeconds: number): Promise<void> {
    await this.database.run(
      'client_touch',
      `UPDATE clients SET last_used_at = now()
        WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2))`,
      [id, intervalSeconds],
    );
  }

  async deleteById(id: string): Promise<boolean> {
    const result = await this.repo().delete({ id });
    return (result.affected ?? 0) > 0;
  }

  /** One page in id order, with one extra row to tell whether more follow. */
  page(page: PageRequest, filter: ClientFilter): Promise<ClientEntity[]> {
    const qb = this.repo().createQueryBuilder('c').orderBy('c.id', 'ASC').limit(page.pageSize + 1);
    if (page.after !== undefined) qb.andWhere('c.id > :after', { after: page.after });
    return applyFilter(qb, filter).getMany();
  }

  /** How many clients match a filter. */
  count(filter: ClientFilter): Promise<number> {
    return applyFilter(this.repo().createQueryBuilder('c'), filter).getCount();
  }

  /** Up to `limit` ids of matching clients after `after`, in id order (a bulk action's batches). */
  async matchingIds(filter: ClientFilter, limit: number, after?: string, lock = false): Promise<string[]> {
    const qb = this.repo().createQueryBuilder('c').select('c.id', 'id').orderBy('c.id', 'ASC').limit(limit);
    if (after !== undefined) qb.andWhere('c.id > :after', { after });
    // Inside a bulk action's transaction: the rows stay as matched until the action is applied to them.
    if (lock) qb.setLock('pessimistic_write');
    const rows = await applyFilter(qb, filter).getRawMany<{ id: string }>();
    return rows.map((r) => r.id);
  }

  /**
   * Suspends the clients not suspended yet; returns the ids it suspended. With
   * `restate`, a client already suspended keeps its suspended_at and takes the new reason, if one is given.
   */
  async suspend(ids: string[], reason: string | null, restate = false): Promise<string[]> {
    const rows = await this.database.query<{ id: string }>(
      `UPDATE clients SET suspended_at = COALESCE(suspended_at, now()), suspended_reason = COALESCE($2, suspended_reason)
        WHERE id = ANY($1) AND ($3 OR suspended_at IS NULL) RETURNING id`,
      [ids, reason, restate],
    );
    return rows.map((r) => r.id);
  }

  /** Lifts the suspension of those clients that are suspended; returns their ids. */
  async resume(ids: string[]): Promise<string[]> {
    const rows = await this.database.query<{ id: string }>(
      `UPDATE clients SET suspended_at = NULL, suspended_reason = NULL WHERE id = ANY($1) AND suspended_at IS NOT NULL RETURNING id`,
      [ids],
    );
    return rows.map((r) => r.id);
  }

  /** Deletes clients (their tokens, grants and flows go with them); returns the ids deleted. */
  async deleteIds(ids: string[]): Promise<string[]> {
    const rows = await this.database.query<{ id: string }>(`DELETE FROM clients WHERE id = ANY($1) RETURNING id`, [ids]);
    return rows.map((r) => r.id);
  }

  /** Voids every JWT access token the clients were issued until now (README "Operating a fleet of dynamic clients"). */
  async cutOffJwts(ids: string[]): Promise<string[]> {
    const rows = await this.database.query<{ id: string }>(`UPDATE clients SET tokens_revoked_at = now() WHERE id = ANY($1) RETURNING id`, [ids]);
    return rows.map((r) => r.id);
  }

  /** Records the software statement a client now has (or none) after an RFC 7592 update. */
  async setSoftwareStatement(id: string, issuer: string | null, expiresAt: Date | null): Promise<void> {
    await this.database.query(`UPDATE clients SET software_statement_issuer = $2, software_statement_expires_at = $3 WHERE id = $1`, [
      id,
      issuer,
      expiresAt,
    ]);
  }
}
