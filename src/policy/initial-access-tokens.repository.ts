import { Injectable } from '@nestjs/common';
import type { Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import type { ClientEntity } from '../clients/client.entity.js';
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
   */
  async consumeUse(id: string): Promise<boolean> {
    const rows = await this.database.query(
      `UPDATE initial_access_tokens t SET uses = t.uses + 1 WHERE t.id = $1 AND ${USABLE_IAT('t')} RETURNING t.id`,
      [id],
    );
    return rows.length > 0;
  }

  /**
   * Inserts registered clients in one statement, each with a use of its
   * initial access token (when it has one) taken in the same statement.
   * The uses of one token are taken all together or not at all: the clients
   * of a token with fewer uses left than it has clients here are not
   * inserted (their callers try again one at a time, README "Performance").
   * Returns the ids inserted.
   */
  async insertRegisteredClients(rows: ReadonlyArray<{ client: ClientEntity; iatId: string | null }>): Promise<Set<string>> {
    const column = <T>(pick: (client: ClientEntity) => T): T[] => rows.map((r) => pick(r.client));
    const inserted = await this.database.run<{ id: string }>(
      'clients_insert_registered',
      `WITH input AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::jsonb[], $7::text[], $8::timestamptz[],
                              $9::jsonb[], $10::text[], $11::timestamptz[], $12::timestamptz[], $13::text[], $14::text[], $15::timestamptz[],
                              $16::text[], $17::text[])
           AS i(id, created_via, access_token_strategy, secret_hash, secret_expires_at, fields, rat_hash, rat_expires_at,
                registration_policies, iat_id, created_at, secret_created_at, secret_encrypted, statement_issuer, statement_expires_at,
                registered_by_client_id, registered_by_subject)),
       wanted AS (SELECT iat_id, count(*)::int AS n FROM input WHERE iat_id IS NOT NULL GROUP BY iat_id),
       used AS (
         UPDATE initial_access_tokens t SET uses = t.uses + w.n FROM wanted w
          WHERE t.id = w.iat_id AND t.uses + w.n <= t.max_uses AND ${UNEXPIRED_IAT('t')}
          RETURNING t.id)
       INSERT INTO clients (id, created_via, access_token_strategy, secret_hash, secret_expires_at, fields,
                            registration_access_token_hash, registration_access_token_expires_at,
                            registration_policies, initial_access_token_id, last_used_at, created_at, updated_at,
                            secret_created_at, secret_encrypted, software_statement_issuer, software_statement_expires_at,
                            registered_by_client_id, registered_by_subject)
       SELECT i.id, i.created_via, i.access_token_strategy, i.secret_hash, i.secret_expires_at, i.fields, i.rat_hash, i.rat_expires_at,
              i.registration_policies, i.iat_id, NULL, i.created_at, i.created_at, i.secret_created_at, i.secret_encrypted,
              i.statement_issuer, i.statement_expires_at, i.registered_by_client_id, i.registered_by_subject
         FROM input i
        WHERE i.iat_id IS NULL OR i.iat_id IN (SELECT id FROM used)
       RETURNING id`,
      [
        column((c) => c.id),
        column((c) => c.createdVia),
        column((c) => c.accessTokenStrategy),
        column((c) => c.secretHash),
        column((c) => c.secretExpiresAt),
        column((c) => JSON.stringify(c.fields)),
        column((c) => c.ratHash),
        column((c) => c.ratExpiresAt),
        column((c) => JSON.stringify(c.registrationPolicies)),
        rows.map((r) => r.iatId),
        column((c) => c.createdAt),
        column((c) => c.secretCreatedAt),
        column((c) => c.secretEncrypted),
        column((c) => c.softwareStatementIssuer),
        column((c) => c.softwareStatementExpiresAt),
        column((c) => c.registeredByClientId),
        column((c) => c.registeredBySubject),
      ],
    );
    return new Set(inserted.map((r) => r.id));
  }

}
