// The registration access token columns of the clients table (RFC 7592): the
// registration module alone changes them after a client is created.
import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.js';

@Injectable()
export class RegistrationAccessTokensRepository {
  constructor(private readonly database: Database) {}

  /** Replaces a client's token only while it is still `expectedHash`; false when it was not. */
  async rotate(clientId: string, expectedHash: string, next: { hash: string; expiresAt: Date | null }): Promise<boolean> {
    const rows = await this.database.query(
      `UPDATE clients
          SET registration_access_token_hash = $3, registration_access_token_expires_at = $4, updated_at = CURRENT_TIMESTAMP
        WHERE id = $1 AND registration_access_token_hash = $2
       RETURNING id`,
      [clientId, expectedHash, next.hash, next.expiresAt],
    );
    return rows.length > 0;
  }

  /**
   * Gives a client a new token, whatever its current one is: a re-registration or a
   * recovery, where the caller proved itself otherwise. Call it on a locked row.
   */
  async reissue(clientId: string, next: { hash: string; expiresAt: Date | null }): Promise<void> {
    await this.database.query(
      `UPDATE clients
          SET registration_access_token_hash = $2, registration_access_token_expires_at = $3, updated_at = CURRENT_TIMESTAMP
        WHERE id = $1`,
      [clientId, next.hash, next.expiresAt],
    );
  }

  /** Deletes a client only while `tokenHash` is its current token; false otherwise. */
  async deleteClient(clientId: string, tokenHash: string): Promise<boolean> {
    const rows = await this.database.query(
      `DELETE FROM clients WHERE id = $1 AND registration_access_token_hash = $2 RETURNING id`,
      [clientId, tokenHash],
    );
    return rows.length > 0;
  }
}
