import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';
import type { PolicyRules } from './policy-rules.js';

/** A declarative registration policy managed through the admin API. */
@Entity({ name: 'policies' })
export class PolicyEntity {
  @PrimaryColumn({ type: 'text' })
  name: string;

  @Column({ type: 'text' })
  description: string;

  @Column({ type: 'jsonb' })
  rules: PolicyRules;

  /** Clients registered under the policy so far; max_clients is enforced against it. */
  @Column({ name: 'clients_created', type: 'integer' })
  clientsCreated: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
