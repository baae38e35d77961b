import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { AccessTokenStrategy } from '../config/schema.js';
import type { ClientFields } from './client-metadata.js';
import type { RotatedSecret } from './client-secrets.js';

/** `metadata_document`: a client described by its Client ID Metadata Document, never a row of this table. */
export type CreatedVia = 'admin' | 'dcr' | 'metadata_document';

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

  @Column({ name: 'secret_created_at', type: 'timestamptz', nullable: true })
  secretCreatedAt: Date | null;

  /**
   * The current secret encrypted under secrets.system, kept only for
   * client_secret_jwt clients (an HMAC is verified with the secret itself); null otherwise.
   */
  @Column({ name: 'secret_encrypted', type: 'text', nullable: true })
  secretEncrypted: string | null;

  /** Secrets replaced by a rotation that still authenticate until their expires_at (README "Rotating client secrets"). */
  @Column({ name: 'rotated_secrets', type: 'jsonb', default: () => "'[]'" })
  rotatedSecrets: RotatedSecret[];

  @Column({ type: 'jsonb' })
  fields: ClientFields;

  /** SHA-256 of the current registration access token (RFC 7592); null when none is issued. */
  @Column({ name: 'registration_access_token_hash', type: 'text', nullable: true })
  ratHash: string | null;

  @Column({ name: 'registration_access_token_expires_at', type: 'timestamptz', nullable: true })
  ratExpiresAt: Date | null;

  /** Policies that applied at registration; they apply again at every RFC 7592 update. */
  @Column({ name: 'registration_policies', type: 'jsonb', default: () => "'[]'" })
  registrationPolicies: string[];

  /** The initial access token a DCR client was registered with, if any. */
  @Column({ name: 'initial_access_token_id', type: 'text', nullable: true })
  initialAccessTokenId: string | null;

  /**
   * Hash of the key by which a policy's reregistration rule recognises this
   * client's registrant registering again; null when no such rule applied.
   */
  @Column({ name: 'reregistration_key', type: 'text', nullable: true })
  reregistrationKey: string | null;

  /**
   * Registered with an access token (README "Registering with an access token"):
   * the token's client and subject (the client itself for client_credentials); null otherwise.
   */
  @Column({ name: 'registered_by_client_id', type: 'text', nullable: true })
  registeredByClientId: string | null;

  @Column({ name: 'registered_by_subject', type: 'text', nullable: true })
  registeredBySubject: string | null;

  /** Last token issued or management call, recorded at most once an interval (ClientActivityService). */
  @Column({ name: 'last_used_at', type: 'timestamptz', nullable: true })
  lastUsedAt: Date | null;

  /** Set while an operator (or the janitor) has suspended the client (README "Operating a fleet of dynamic clients"). */
  @Column({ name: 'suspended_at', type: 'timestamptz', nullable: true })
  suspendedAt: Date | null;

  @Column({ name: 'suspended_reason', type: 'text', nullable: true })
  suspendedReason: string | null;

  /** JWT access tokens of the client issued at or before this time are void (a bulk revoke_tokens). */
  @Column({ name: 'tokens_revoked_at', type: 'timestamptz', nullable: true })
  tokensRevokedAt: Date | null;

  /** The issuer of the verified software statement the client registered (or last updated) with, if any. */
  @Column({ name: 'software_statement_issuer', type: 'text', nullable: true })
  softwareStatementIssuer: string | null;

  /** The `exp` of that statement; null when it had none. */
  @Column({ name: 'software_statement_expires_at', type: 'timestamptz', nullable: true })
  softwareStatementExpiresAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
