import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

export type SigningAlgorithm = 'RS256' | 'ES256' | 'EdDSA';

/** A key that signs JWT access tokens and ID tokens; the private half is stored encrypted under secrets.system. */
@Entity({ name: 'signing_keys' })
export class SigningKeyEntity {
  @PrimaryColumn({ type: 'text' })
  kid: string;

  @Column({ type: 'text' })
  alg: SigningAlgorithm;

  @Column({ type: 'text' })
  state: 'active' | 'retired';

  @Column({ name: 'public_jwk', type: 'jsonb' })
  publicJwk: Record<string, unknown>;

  @Column({ name: 'private_jwk_encrypted', type: 'text' })
  privateJwkEncrypted: string;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'retired_at', type: 'timestamptz', nullable: true })
  retiredAt: Date | null;

  /** Rounded up from the latest expiry of a token this key signed: a retired key stays published until then. */
  @Column({ name: 'signed_until', type: 'timestamptz', nullable: true })
  signedUntil: Date | null;
}
