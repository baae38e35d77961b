import { Injectable } from '@nestjs/common';
import { DataSource, In, type EntityManager, type Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import type { PageRequest } from '../common/pagination.js';
import { PolicyEntity } from './policy.entity.js';

@Injectable()
export class PoliciesRepository {
  constructor(private readonly dataSource: DataSource) {}

  private repo(manager?: EntityManager): Repository<PolicyEntity> {
    return (manager ?? this.dataSource.manager).getRepository(PolicyEntity);
  }

  findByName(name: string): Promise<PolicyEntity | null> {
    return this.repo().findOneBy({ name });
  }

  findByNames(names: string[]): Promise<PolicyEntity[]> {
    return names.length === 0 ? Promise.resolve([]) : this.repo().findBy({ name: In(names) });
  }

  /** Inserts; a duplicate name surfaces as the driver's unique violation (23505). */
  async insert(policy: PolicyEntity): Promise<void> {
    await this.repo().insert(policy as QueryDeepPartialEntity<PolicyEntity>);
  }

  async update(policy: PolicyEntity): Promise<void> {
    await this.repo().update({ name: policy.name }, {
      description: policy.description,
      rules: policy.rules,
      updatedAt: policy.updatedAt,
    } as QueryDeepPartialEntity<PolicyEntity>);
  }

  async deleteByName(name: string): Promise<boolean> {
    const result = await this.repo().delete({ name });
    return (result.affected ?? 0) > 0;
  }

  page(page: PageRequest): Promise<PolicyEntity[]> {
    const qb = this.repo().createQueryBuilder('p').orderBy('p.name', 'ASC').limit(page.pageSize + 1);
    if (page.after !== undefined) qb.andWhere('p.name > :after', { after: page.after });
    return qb.getMany();
  }

  /** Unexpired, not used-up initial access tokens that name the policy. */
  async liveTokensNaming(name: string): Promise<string[]> {
    const rows: Array<{ id: string }> = await this.dataSource.query(
      `SELECT id FROM initial_access_tokens
        WHERE policies @> jsonb_build_array($1::text) AND uses < max_uses AND (expires_at IS NULL OR expires_at > now())
        ORDER BY id LIMIT 20`,
      [name],
    );
    return rows.map((r) => r.id);
  }

  /**
   * Takes one client slot of a policy with max_clients. The conditional UPDATE
   * holds the row lock, so concurrent registrations never exceed the limit; in
   * the registration's transaction, a failed registration gives the slot back.
   */
  async takeClientSlot(name: string, maxClients: number, manager: EntityManager): Promise<boolean> {
    const result = await this.repo(manager)
      .createQueryBuilder()
      .update(PolicyEntity)
      .set({ clientsCreated: () => 'clients_created + 1' })
      .where('name = :name AND clients_created < :maxClients', { name, maxClients })
      .execute();
    return (result.affected ?? 0) > 0;
  }
}
