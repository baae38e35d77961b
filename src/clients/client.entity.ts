import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { AccessTokenStrategy } from '../config/schema.js';
import type { ClientFields } from './client-metadata.js';

export type CreatedVia = 'admin' | 'dcr';

/**
 * An OAuth client. The metadata named in CLIENT_FIELDS lives in one JSON
 * document; what the server decides (identity, secrets, strategy, provenance)
 * has columns of its own.
 */
@Entity({ name: 'clients' })
export class ClientEntity {
  @PrimaryColumn({ type: 'text' })
  id: string;

  @Column({ name: 'created_via', type: 'text' })
  createdVia: CreatedVia;

  @Column({ name: 'access_token_strategy', type: 'text', nullable: true })
  accessTokenStrategy: AccessTokenStrategy | null;

  /** `sha256$...` for generated secrets, `scrypt$...` for operator-chosen ones; null for public and key-based clients. */
  @Column({ name: 'secret_hash', type: 'text', nullable: true })
  secretHash: string | null;

  @Column({ name: 'secret_expires_at', type: 'timestamptz', nullable: true })
  secretExpiresAt: Date | null;

  @Column({ type: 'jsonb' })
  fields: ClientFields;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
