// Queries on trusted_jwt_issuers: the issuers, subjects and keys whose
// assertions the JWT bearer grant accepts (RFC 7523 §3).
import { Injectable } from '@nestjs/common';
import type { PageRequest } from '../common/pagination.js';
import { Database } from '../database/database.js';

export interface TrustedIssuer {
  id: string;
  issuer: string;
  /** '' when allow_any_subject. */
  subject: string;
  allowAnySubject: boolean;
  scope: string[];
  keyId: string;
  jwk: Record<string, unknown>;
  createdAt: Date;
  expiresAt: Date;
}

interface Row {
  id: string;
  issuer: string;
  subject: string;
  allow_any_subject: boolean;
  scope: string[];
  key_id: string;
  jwk: Record<string, unknown>;
  created_at: Date;
  expires_at: Date;
}

const COLUMNS = 'id, issuer, subject, allow_any_subject, scope, key_id, jwk, created_at, expires_at';

function fromRow(row: Row): TrustedIssuer {
  return {
    id: row.id,
    issuer: row.issuer,
    subject: row.subject,
    allowAnySubject: row.allow_any_subject,
    scope: row.scope,
    keyId: row.key_id,
    jwk: row.jwk,
    createdAt: new Date(row.created_at),
    expiresAt: new Date(row.expires_at),
  };
}

@Injectable()
export class TrustedIssuersRepository {
  constructor(private readonly database: Database) {}

  /** Inserts; a second (issuer, subject, kid) surfaces as the driver's unique violation (23505). */
  async insert(t: TrustedIssuer): Promise<void> {
    await this.database.query(
      `INSERT INTO trusted_jwt_issuers (id, issuer, subject, allow_any_subject, scope, key_id, jwk, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [t.id, t.issuer, t.subject, t.allowAnySubject, JSON.stringify(t.scope), t.keyId, JSON.stringify(t.jwk), t.createdAt, t.expiresAt],
    );
  }

  async findById(id: string): Promise<TrustedIssuer | undefined> {
    const [row] = await this.database.query<Row>(`SELECT ${COLUMNS} FROM trusted_jwt_issuers WHERE id = $1`, [id]);
    return row ? fromRow(row) : undefined;
  }

  async page(page: PageRequest, issuer?: string): Promise<TrustedIssuer[]> {
    const rows = await this.database.query<Row>(
      `SELECT ${COLUMNS} FROM trusted_jwt_issuers
        WHERE ($1::text IS NULL OR id > $1) AND ($2::text IS NULL OR issuer = $2)
        ORDER BY id LIMIT $3`,
      [page.after ?? null, issuer ?? null, page.pageSize + 1],
    );
    return rows.map(fromRow);
  }

  async deleteById(id: string): Promise<boolean> {
    const rows = await this.database.query(`DELETE FROM trusted_jwt_issuers WHERE id = $1 RETURNING id`, [id]);
    return rows.length > 0;
  }

  /** Every trust of an issuer, expired ones included, so that the grant can say which it was. */
  async forIssuer(issuer: string): Promise<TrustedIssuer[]> {
    const rows = await this.database.run<Row>(
      'trusted_jwt_issuers_for_issuer',
      `SELECT ${COLUMNS} FROM trusted_jwt_issuers WHERE issuer = $1 ORDER BY created_at LIMIT 500`,
      [issuer],
    );
    return rows.map(fromRow);
  }
}
