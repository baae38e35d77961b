import { Column, CreateDateColumn, Entity, PrimaryColumn } from 'typeorm';

/** An initial access token (RFC 7591 §3): the right to register up to `maxUses` clients. */
@Entity({ name: 'initial_access_tokens' })
export class InitialAccessTokenEntity {
  @PrimaryColumn({ type: 'text' })
  id: string;

  /** SHA-256 of the token; the token itself is shown once, at minting. */
  @Column({ name: 'token_hash', type: 'text' })
  tokenHash: string;

  @Column({ type: 'text' })
  description: string;

  /** Names of the policies that apply to registrations made with this token, in order. */
  @Column({ type: 'jsonb' })
  policies: string[];

  @Column({ name: 'max_uses', type: 'integer' })
  maxUses: number;

  @Column({ type: 'integer' })
  uses: number;

  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt: Date | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
