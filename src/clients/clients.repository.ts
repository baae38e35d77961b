import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, type Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import type { PageRequest } from '../common/pagination.js';
import { ClientEntity } from './client.entity.js';

export interface ClientFilter {
  clientName?: string;
  owner?: string;
}

/** Queries on the clients table. Methods take an EntityManager when they must join a caller's transaction. */
@Injectable()
export class ClientsRepository {
  constructor(private readonly dataSource: DataSource) {}

  private repo(manager?: EntityManager): Repository<ClientEntity> {
    return (manager ?? this.dataSource.manager).getRepository(ClientEntity);
  }

  findById(id: string, manager?: EntityManager): Promise<ClientEntity | null> {
    return this.repo(manager).findOneBy({ id });
  }

  /** Reads a client and locks its row until the caller's transaction ends. */
  findByIdForUpdate(id: string, manager: EntityManager): Promise<ClientEntity | null> {
    return this.repo(manager).findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
  }

  /** Inserts a new client; a duplicate id surfaces as the driver's unique violation (23505). */
  async insert(client: ClientEntity, manager?: EntityManager): Promise<ClientEntity> {
    // jsonb columns hold free-form objects, which TypeORM's partial-entity type cannot express.
    await this.repo(manager).insert(client as QueryDeepPartialEntity<ClientEntity>);
    return client;
  }

  /**
   * Writes a client's metadata, secret and strategy. The registration access
   * token is deliberately not written here: only rotateRegistrationToken
   * changes it, so an admin update racing an RFC 7592 update cannot bring back
   * a token that was just rotated away.
   */
  async updateMetadata(client: ClientEntity, manager?: EntityManager): Promise<void> {
    await this.repo(manager).update({ id: client.id }, {
      fields: client.fields,
      secretHash: client.secretHash,
      secretExpiresAt: client.secretExpiresAt,
      accessTokenStrategy: client.accessTokenStrategy,
      updatedAt: client.updatedAt,
    } as QueryDeepPartialEntity<ClientEntity>);
  }

  /** Replaces the registration access token only if it is still `expectedHash`; false when it was not. */
  async rotateRegistrationToken(
    id: string,
    expectedHash: string,
    next: { hash: string | null; expiresAt: Date | null },
    manager?: EntityManager,
  ): Promise<boolean> {
    const result = await this.repo(manager)
      .createQueryBuilder()
      .update(ClientEntity)
      .set({ ratHash: next.hash, ratExpiresAt: next.expiresAt })
      .where('id = :id AND registration_access_token_hash = :expectedHash', { id, expectedHash })
      .execute();
    return (result.affected ?? 0) > 0;
  }

  async touch(id: string): Promise<void> {
    await this.dataSource.query(
      `UPDATE clients SET last_used_at = now() WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 hour')`,
      [id],
    );
  }

  async deleteById(id: string, manager?: EntityManager): Promise<boolean> {
    const result = await this.repo(manager).delete({ id });
    return (result.affected ?? 0) > 0;
  }

  /** Deletes a client only while `ratHash` is its current registration access token. */
  async deleteByIdAndRegistrationToken(id: string, ratHash: string): Promise<boolean> {
    const result = await this.repo().delete({ id, ratHash });
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
