// client_assertion_jtis: the jti of every client assertion accepted, kept
// until the assertion expires, so none is accepted twice (RFC 7523 §3, item 7).
import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.js';

@Injectable()
export class ClientAssertionsRepository {
  constructor(private readonly database: Database) {}

  /** Records the jti; false when the client already used it (the primary key settles concurrent uses). */
  async recordJti(clientId: string, jti: string, expiresAt: number): Promise<boolean> {
    const inserted = await this.database.query(
      `INSERT INTO client_assertion_jtis (client_id, jti, expires_at) VALUES ($1, $2, to_timestamp($3))
       ON CONFLICT DO NOTHING RETURNING jti`,
      [clientId, jti, expiresAt],
    );
    return inserted.length > 0;
  }

  /**
   * Records the jti of a JWT bearer grant assertion (RFC 7523 §3, item 7): a
   * jti is unique per issuer (RFC 7519 §4.1.7), so the issuer takes the place
   * of the client id, in a namespace of its own.
   */
  recordGrantJti(issuer: string, jti: string, expiresAt: number): Promise<boolean> {
    return this.recordJti(`jwt-bearer-grant ${issuer}`, jti, expiresAt);
  }
}
