import { Injectable } from '@nestjs/common';
import { In, type Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import type { PageRequest } from '../common/pagination.js';
import { Database } from '../database/database.js';
import { UNEXPIRED_IAT } from './initial-access-tokens.repository.js';
import { PolicyEntity } from './policy.entity.js';

/**
 * SQL: client row `alias` names the policy $1, as one it was registered under or in
 * registered_client_policies (README "Registering with an access token").
 */
const NAMES_POLICY = (alias: string): string =>
  `(${alias}.registration_policies @> jsonb_build_array($1::text) OR ${alias}.fields->'registered_client_policies' @> jsonb_build_array($1::text))`;

/** Queries on policies; every one joins the ambient transaction when there is one. */
@Injectable()
export class PoliciesRepository {
  constructor(private readonly database: Database) {}

  private repo(): Repository<PolicyEntity> {
    return this.database.manager().getRepository(PolicyEntity);
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

  /**
   * What still depends on a policy: unexpired initial access tokens (used up or not) and clients that
   * name it, as the policies they were registered under or as those of the clients they register.
   */
  async usage(name: string): Promise<{ tokens: string[]; clients: number }> {
    const [tokens, clients] = await Promise.all([
      this.database.query<{ id: string }>(
        `SELECT t.id FROM initial_access_tokens t
          WHERE t.policies @> jsonb_build_array($1::text) AND ${UNEXPIRED_IAT('t')}
          ORDER BY t.id LIMIT 20`,
        [name],
      ),
      this.database.query<{ n: string }>(`SELECT count(*) AS n FROM clients c WHERE ${NAMES_POLICY('c')}`, [name]),
    ]);
    return { tokens: tokens.map((r) => r.id), clients: Number(clients[0].n) };
  }

  /**
   * Deletes a policy that nothing depends on; the dependency check and the
   * delete are one statement, so a token or client that names the policy
   * cannot slip in between.
   */
  async deleteUnused(name: string): Promise<boolean> {
    const deleted = await this.database.query(
      `DELETE FROM policies p WHERE p.name = $1
          AND NOT EXISTS (SELECT 1 FROM initial_access_tokens t
                           WHERE t.policies @> jsonb_build_array($1::text) AND ${UNEXPIRED_IAT('t')})
          AND NOT EXISTS (SELECT 1 FROM clients c WHERE ${NAMES_POLICY('c')})
        RETURNING p.name`,
      [name],
    );
    return deleted.length > 0;
  }

  /**
   * Takes one client slot of a policy with max_clients. The conditional UPDATE
   * holds the row lock, so concurrent registrations never exceed the limit; in
   * the registration's transaction, a failed registration gives the slot back.
   */
  async takeClientSlot(name: string, maxClients: number): Promise<boolean> {
    const rows = await this.database.query(
      `UPDATE policies SET clients_created = clients_created + 1, updated_at = CURRENT_TIMESTAMP
        WHERE name = $1 AND clients_created < $2 RETURNING name`,
      [name, maxClients],
    );
    return rows.length > 0;
  }
}
