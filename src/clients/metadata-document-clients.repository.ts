import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.js';

/** The metadata_document_clients table: client_id URLs whose documents were accepted, so rows elsewhere may name them. */
@Injectable()
export class MetadataDocumentClientsRepository {
  constructor(private readonly database: Database) {}

  /** Records an accepted fetch of the document at `id`; returns when the client was first seen. */
  async recordFetch(id: string): Promise<Date> {
    const rows = await this.database.run<{ first_seen_at: Date }>(
      'metadata_document_client_fetched',
      `INSERT INTO metadata_document_clients (id) VALUES ($1)
       ON CONFLICT (id) DO UPDATE SET last_fetched_at = now()
       RETURNING first_seen_at`,
      [id],
    );
    return rows[0].first_seen_at;
  }
}
