import { Column, Entity, PrimaryColumn } from 'typeorm';

/**
 * An opaque access token. Only a keyed hash of the value is stored; deleting
 * the client deletes its tokens (ON DELETE CASCADE).
 */
@Entity({ name: 'access_tokens' })
export class AccessTokenEntity {
  @PrimaryColumn({ type: 'text' })
  id: string;

  @Column({ name: 'token_hash', type: 'text' })
  tokenHash: string;

  @Column({ name: 'client_id', type: 'text' })
  clientId: string;

  @Column({ type: 'text' })
  subject: string;

  @Column({ type: 'text' })
  scope: string;

  @Column({ type: 'jsonb' })
  audience: string[];

  @Column({ name: 'issued_at', type: 'timestamptz' })
  issuedAt: Date;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;

  /** The authorization code grant the token was issued from, if any. */
  @Column({ name: 'grant_id', type: 'text', nullable: true })
  grantId: string | null;

  /** RFC 7638 thumbprint of the DPoP key the token is bound to (RFC 9449 §6.2); null = a bearer token. */
  @Column({ name: 'dpop_jkt', type: 'text', nullable: true })
  dpopJkt: string | null;
  /** RFC 8693 §4.1: the actor chain of a token issued by token exchange. */
  @Column({ type: 'jsonb', nullable: true })
  act: Record<string, unknown> | null;

  @Column({ name: 'revoked_at', type: 'timestamptz', nullable: true })
  revokedAt: Date | null;
}
