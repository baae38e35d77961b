// dpop_proof_jtis: the jti of every DPoP proof accepted, per key, kept until
// the proof would be too old to accept anyway, so none is accepted twice
// (RFC 9449 §11.1). In PostgreSQL, so every instance sees every use.
import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.js';

@Injectable()
export class DPoPProofsRepository {
  constructor(private readonly database: Database) {}

  /** Records the jti of a proof signed by the key `jkt`; false when it was already used (the primary key settles concurrent uses). */
  async recordJti(jkt: string, jti: string, expiresAt: number): Promise<boolean> {
    const inserted = await this.database.run(
      'dpop_jti_insert',
      `INSERT INTO dpop_proof_jtis (jkt, jti, expires_at) VALUES ($1, $2, to_timestamp($3))
       ON CONFLICT DO NOTHING RETURNING jti`,
      [jkt, jti, expiresAt],
    );
    return inserted.length > 0;
  }
}
