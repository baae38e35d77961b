import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, type Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import { ClientEntity } from './client.entity.js';

export interface ClientPageQuery {
  pageSize: number;
  /** Return clients whose id sorts after this one. */
  after?: string;
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

  async exists(id: string, manager?: EntityManager): Promise<boolean> {
    return this.repo(manager).existsBy({ id });
  }

  /** Inserts a new client; a duplicate id surfaces as the driver's unique violation (23505). */
  async insert(client: ClientEntity, manager?: EntityManager): Promise<ClientEntity> {
    // jsonb columns hold free-form objects, which TypeORM's partial-entity type cannot express.
    await this.repo(manager).insert(client as QueryDeepPartialEntity<ClientEntity>);
    return client;
  }

  async update(client: ClientEntity, manager?: EntityManager): Promise<ClientEntity> {
    return this.repo(manager).save(client);
  }

  async deleteById(id: string, manager?: EntityManager): Promise<boolean> {
    const result = await this.repo(manager).delete({ id });
    return (result.affected ?? 0) > 0;
  }

  /** One page in id order, plus whether more follow. */
  async page(query: ClientPageQuery): Promise<{ items: ClientEntity[]; more: boolean }> {
    const qb = this.repo().createQueryBuilder('c').orderBy('c.id', 'ASC').limit(query.pageSize + 1);
    if (query.after !== undefined) qb.andWhere('c.id > :after', { after: query.after });
    if (query.clientName !== undefined) qb.andWhere(`c.fields->>'client_name' = :clientName`, { clientName: query.clientName });
    if (query.owner !== undefined) qb.andWhere(`c.fields->>'owner' = :owner`, { owner: query.owner });
    const rows = await qb.getMany();
    return { items: rows.slice(0, query.pageSize), more: rows.length > query.pageSize };
  }
}
