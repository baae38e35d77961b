// The one statement that stores a group commit's registrations (README
// "Performance"): the clients, the uses of their initial access tokens and
// their client.registered events, with one JSON parameter per kind of row.
import { Injectable } from '@nestjs/common';
import { auditEventsWrite, type RecordedEvent } from '../audit/audit-events.repository.js';
import type { ClientEntity } from '../clients/client.entity.js';
import { Database } from '../database/database.js';
import { UNEXPIRED_IAT } from '../policy/initial-access-tokens.repository.js';

export interface NewRegistration {
  client: ClientEntity;
  /** The initial access token that authorised it, which gives it one use. */
  iatId: string | null;
  /** Its client.registered event, prepared in the registrant's request. */
  event: RecordedEvent;
}

@Injectable()
export class RegistrationsRepository {
  constructor(private readonly database: Database) {}

  /**
   * Inserts the clients, each with a use of its initial access token (when it
   * has one) and its event, in one statement. The uses of one token are taken
   * all together or not at all: the clients of a token with fewer uses left
   * than it has clients here are not inserted, nor are their events (their
   * callers try again one at a time). Returns the ids inserted, and whether a
   * token was used up by them.
   */
  async insert(rows: readonly NewRegistration[]): Promise<{ inserted: Set<string>; usedUp: boolean }> {
    const clients = rows.map(({ client: c, iatId }) => ({
      id: c.id,
      created_via: c.createdVia,
      access_token_strategy: c.accessTokenStrategy,
      secret_hash: c.secretHash,
      secret_expires_at: c.secretExpiresAt,
      fields: c.fields,
      rat_hash: c.ratHash,
      rat_expires_at: c.ratExpiresAt,
      registration_policies: c.registrationPolicies,
      iat_id: iatId,
      created_at: c.createdAt,
      secret_created_at: c.secretCreatedAt,
      secret_encrypted: c.secretEncrypted,
      statement_issuer: c.softwareStatementIssuer,
      statement_expires_at: c.softwareStatementExpiresAt,
      registered_by_client_id: c.registeredByClientId,
      registered_by_subject: c.registeredBySubject,
    }));
    const events = auditEventsWrite(
      rows.map((r) => r.event),
      2,
      'registered',
    );
    const result = await this.database.run<{ id: string; used_up: boolean }>(
      'registrations_insert',
      `WITH input AS (
         SELECT * FROM json_to_recordset($1::json)
           AS i(id text, created_via text, access_token_strategy text, secret_hash text, secret_expires_at timestamptz, fields jsonb,
                rat_hash text, rat_expires_at timestamptz, registration_policies jsonb, iat_id text, created_at timestamptz,
                secret_created_at timestamptz, secret_encrypted text, statement_issuer text, statement_expires_at timestamptz,
                registered_by_client_id text, registered_by_subject text)),
       wanted AS (SELECT iat_id, count(*)::int AS n FROM input WHERE iat_id IS NOT NULL GROUP BY iat_id),
       used AS (
         UPDATE initial_access_tokens t SET uses = t.uses + w.n FROM wanted w
          WHERE t.id = w.iat_id AND t.uses + w.n <= t.max_uses AND ${UNEXPIRED_IAT('t')}
          RETURNING t.id, t.uses >= t.max_uses AS used_up),
       registered AS (
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
         RETURNING id),
       ${events.ctes}
       SELECT id, false AS used_up FROM registered
       UNION ALL SELECT id, true FROM used WHERE used_up`,
      [JSON.stringify(clients), ...events.values],
    );
    return { inserted: new Set(result.filter((r) => !r.used_up).map((r) => r.id)), usedUp: result.some((r) => r.used_up) };
  }
}
