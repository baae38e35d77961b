import { Injectable } from '@nestjs/common';
import type { Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import type { PageRequest } from '../common/pagination.js';
import { Database } from '../database/database.js';
import { ClientEntity } from './client.entity.js';

export interface ClientFilter {
  clientName?: string;
  owner?: string;
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
    if (filter.clientName !== undefined) qb.andWhere(`c.fields->>'client_name' = :clientName`, { clientName: filter.clientName });
    if (filter.owner !== undefined) qb.andWhere(`c.fields->>'owner' = :owner`, { owner: filter.owner });
    return qb.getMany();
  }
}
