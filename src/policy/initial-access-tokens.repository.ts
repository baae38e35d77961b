import { Injectable } from '@nestjs/common';
import type { Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import type { PageRequest } from '../common/pagination.js';
import { Database } from '../database/database.js';
import { InitialAccessTokenEntity } from './initial-access-token.entity.js';

/** SQL: the initial access token row `alias` has not expired (used up or not). */
export const UNEXPIRED_IAT = (alias: string): string => `(${alias}.expires_at IS NULL OR ${alias}.expires_at > now())`;

/** SQL: the initial access token row `alias` may still register a client (RFC 7591 §3): a use left, not expired. */
export const USABLE_IAT = (alias: string): string => `(${alias}.uses < ${alias}.max_uses AND ${UNEXPIRED_IAT(alias)})`;

/** Queries on initial_access_tokens; every one joins the ambient transaction when there is one. */
@Injectable()
export class InitialAccessTokensRepository {
  constructor(private readonly database: Database) {}

  private repo(): Repository<InitialAccessTokenEntity> {
    return this.database.manager().getRepository(InitialAccessTokenEntity);
  }

  async insert(iat: InitialAccessTokenEntity): Promise<void> {
    await this.repo().insert(iat as QueryDeepPartialEntity<InitialAccessTokenEntity>);
  }

  findById(id: string): Promise<InitialAccessTokenEntity | null> {
    return this.repo().findOneBy({ id });
  }

  /** Whether the token with this id still exists (revoking deletes it) and has not expired. */
  async isUnexpired(id: string): Promise<boolean> {
    const rows = await this.database.query(`SELECT 1 FROM initial_access_tokens t WHERE t.id = $1 AND ${UNEXPIRED_IAT('t')}`, [id]);
    return rows.length > 0;
  }

  /** The token with this hash, provided it is still usable; unknown, used-up and expired ones all read as null. */
  async findUsableByTokenHash(tokenHash: string): Promise<InitialAccessTokenEntity | null> {
    const rows = await this.database.run(
      'iat_usable_by_hash',
      `SELECT t.id, t.token_hash, t.description, t.policies, t.max_uses, t.uses, t.expires_at, t.created_at
         FROM initial_access_tokens t WHERE t.token_hash = $1 AND ${USABLE_IAT('t')}`,
      [tokenHash],
    );
    return rows[0] ? this.database.entityFromRow(InitialAccessTokenEntity, rows[0]) : null;
  }

  /**
   * The token with this hash while it has not expired, used up or not: a used-up token
   * may still re-register the clients it registered (README "Re-registration and
   * recovering a registration access token"), and creates nothing.
   */
  async findUnexpiredByTokenHash(tokenHash: string): Promise<InitialAccessTokenEntity | null> {
    const rows = await this.database.run(
      'iat_unexpired_by_hash',
      `SELECT t.id, t.token_hash, t.description, t.policies, t.max_uses, t.uses, t.expires_at, t.created_at
         FROM initial_access_tokens t WHERE t.token_hash = $1 AND ${UNEXPIRED_IAT('t')}`,
      [tokenHash],
    );
    return rows[0] ? this.database.entityFromRow(InitialAccessTokenEntity, rows[0]) : null;
  }

  page(page: PageRequest): Promise<InitialAccessTokenEntity[]> {
    const qb = this.repo().createQueryBuilder('t').orderBy('t.id', 'ASC').limit(page.pageSize + 1);
    if (page.after !== undefined) qb.andWhere('t.id > :after', { after: page.after });
    return qb.getMany();
  }

  async deleteById(id: string): Promise<boolean> {
    const result = await this.repo().delete({ id });
    return (result.affected ?? 0) > 0;
  }

  /**
   * Counts one use if the token is still usable. The conditional UPDATE takes
   * the row lock, so concurrent registrations serialise here and never exceed
   * max_uses; inside the registration's transaction, a registration that fails
   * afterwards gives the use back.
   * Undefined when it had none left; otherwise whether this was its last.
   */
  async consumeUse(id: string): Promise<{ usedUp: boolean } | undefined> {
    const rows = await this.database.query<{ used_up: boolean }>(
      `UPDATE initial_access_tokens t SET uses = t.uses + 1 WHERE t.id = $1 AND ${USABLE_IAT('t')} RETURNING t.uses >= t.max_uses AS used_up`,
      [id],
    );
    return rows[0] ? { usedUp: rows[0].used_up } : undefined;
  }

}
