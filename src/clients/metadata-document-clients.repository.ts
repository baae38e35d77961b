import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.js';

/** The metadata_document_clients table: client_id URLs whose documents were accepted, so rows elsewhere may name them. */
@Injectable()
export class MetadataDocumentClientsRepository {
  constructor(private readonly database: Database) {}

  /**
   * Records an accepted fetch of the document at `id` at `now` (this process's
   * clock, which also dates the tokens); returns when the client was first seen.
   */
  async recordFetch(id: string, now: Date): Promise<Date> {
    const rows = await this.database.run<{ first_seen_at: Date }>(
      'metadata_document_client_fetched',
      `INSERT INTO metadata_document_clients (id, first_seen_at, last_fetched_at) VALUES ($1, $2, $2)
       ON CONFLICT (id) DO UPDATE SET last_fetched_at = $2
       RETURNING first_seen_at`,
      [id, now],
    );
    return rows[0].first_seen_at;
  }
}
