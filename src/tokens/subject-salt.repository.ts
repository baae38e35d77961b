// subject_identifier_salt: the one row holding the pairwise subject salt,
// encrypted under secrets.system.
import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.js';

@Injectable()
export class SubjectSaltRepository {
  constructor(private readonly database: Database) {}

  /** Stores this salt unless one exists: the first instance to insert wins. */
  async createIfMissing(encrypted: string): Promise<void> {
    await this.database.run(
      'subject_salt_create',
      `INSERT INTO subject_identifier_salt (id, salt_encrypted) VALUES (1, $1) ON CONFLICT (id) DO NOTHING`,
      [encrypted],
    );
  }

  async read(): Promise<string> {
    const [row] = await this.database.run<{ salt_encrypted: string }>('subject_salt_read', `SELECT salt_encrypted FROM subject_identifier_salt WHERE id = 1`, []);
    return row.salt_encrypted;
  }

  /** Replaces the stored ciphertext, unless another instance already did. */
  async reencrypt(previous: string, encrypted: string): Promise<void> {
    await this.database.run(
      'subject_salt_reencrypt',
      `UPDATE subject_identifier_salt SET salt_encrypted = $2 WHERE id = 1 AND salt_encrypted = $1`,
      [previous, encrypted],
    );
  }
}
