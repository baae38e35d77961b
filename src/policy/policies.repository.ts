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

  page(page: PageRequest): Promise<PolicyEntity[]> {
    const qb = this.repo().createQueryBuilder('p').orderBy('p.name', 'ASC').limit(page.pageSize + 1);
    if (page.after !== undefined) qb.andWhere('p.name > :after', { after: page.after });
    return qb.getMany();
  }

  /** What still depends on a policy: unexpired initial access tokens (used up or not) and clients that name it. */
  async usage(name: string): Promise<{ tokens: string[]; clients: number }> {
    const [tokens, clients]: [Array<{ id: string }>, Array<{ n: string }>] = await Promise.all([
      this.dataSource.query(
        `SELECT id FROM initial_access_tokens
          WHERE policies @> jsonb_build_array($1::text) AND (expires_at IS NULL OR expires_at > now())
          ORDER BY id LIMIT 20`,
        [name],
      ),
      this.dataSource.query(`SELECT count(*) AS n FROM clients WHERE registration_policies @> jsonb_build_array($1::text)`, [name]),
    ]);
    return { tokens: tokens.map((r) => r.id), clients: Number(clients[0].n) };
  }

  /**
   * Deletes a policy that nothing depends on; the dependency check and the
   * delete are one statement, so a token or client that names the policy
   * cannot slip in between.
   */
  async deleteUnused(name: string): Promise<boolean> {
    // A data-modifying CTE read by a SELECT: the driver then answers with the rows.
    const deleted: unknown[] = await this.dataSource.query(
      `WITH gone AS (DELETE FROM policies p WHERE p.name = $1
          AND NOT EXISTS (SELECT 1 FROM initial_access_tokens t
                           WHERE t.policies @> jsonb_build_array($1::text) AND (t.expires_at IS NULL OR t.expires_at > now()))
          AND NOT EXISTS (SELECT 1 FROM clients c WHERE c.registration_policies @> jsonb_build_array($1::text))
        RETURNING p.name) SELECT name FROM gone`,
      [name],
    );
    return deleted.length > 0;
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
