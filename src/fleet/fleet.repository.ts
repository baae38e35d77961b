// The token side of a bulk revoke_tokens: what no client row records.
import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.js';

@Injectable()
export class FleetRepository {
  constructor(private readonly database: Database) {}

  /** Revokes every live opaque access token of the clients. */
  async revokeOpaqueAccessTokens(clientIds: string[]): Promise<void> {
    await this.database.query(`UPDATE access_tokens SET revoked_at = now() WHERE client_id = ANY($1) AND revoked_at IS NULL`, [clientIds]);
  }

  /** The unrevoked grants (authorization code flow, refresh tokens) of the clients. */
  async liveGrantIds(clientIds: string[]): Promise<string[]> {
    const rows = await this.database.query<{ id: string }>(`SELECT id FROM oauth2_grants WHERE client_id = ANY($1) AND revoked_at IS NULL`, [clientIds]);
    return rows.map((r) => r.id);
  }
}
