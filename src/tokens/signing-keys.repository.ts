// Queries on signing_keys: the keys every instance signs with and publishes.
import { Injectable } from '@nestjs/common';
import type { Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import { Database } from '../database/database.js';
import { SigningKeyEntity, type SigningAlgorithm } from './signing-key.entity.js';

// Any fixed number works; it only has to be the same in every instance.
const ROTATION_LOCK = 7_591_003;

@Injectable()
export class SigningKeysRepository {
  constructor(private readonly database: Database) {}

  private get repo(): Repository<SigningKeyEntity> {
    return this.database.manager().getRepository(SigningKeyEntity);
  }

  hasActive(alg: SigningAlgorithm): Promise<boolean> {
    return this.repo.existsBy({ alg, state: 'active' });
  }

  /** Inserts the key unless `alg` already has an active one (the unique index settles concurrent starts). */
  async insertUnlessActive(key: SigningKeyEntity): Promise<void> {
    await this.repo
      .createQueryBuilder()
      .insert()
      .into(SigningKeyEntity)
      .values(key as QueryDeepPartialEntity<SigningKeyEntity>)
      .orIgnore()
      .execute();
  }

  async activeAlgorithms(): Promise<SigningAlgorithm[]> {
    const active = await this.repo.find({ select: { alg: true }, where: { state: 'active' } });
    return active.map((k) => k.alg);
  }

  /**
   * Retires the active keys of `algs` and activates `fresh`, in one
   * transaction; concurrent rotations take turns, so each retires the keys
   * the previous one activated.
   */
  async replaceActive(algs: SigningAlgorithm[], fresh: SigningKeyEntity[]): Promise<void> {
    await this.database.transaction(async () => {
      await this.database.query('SELECT pg_advisory_xact_lock($1)', [ROTATION_LOCK]);
      await this.repo
        .createQueryBuilder()
        .update(SigningKeyEntity)
        .set({ state: 'retired', retiredAt: () => 'now()' })
        .where('alg IN (:...algs) AND state = :state', { algs, state: 'active' })
        .execute();
      await this.repo.insert(fresh as QueryDeepPartialEntity<SigningKeyEntity>[]);
    });
  }

  newestFirst(): Promise<SigningKeyEntity[]> {
    return this.repo.find({ order: { createdAt: 'DESC' } });
  }

  all(): Promise<SigningKeyEntity[]> {
    return this.repo.find();
  }

  findByKid(kid: string): Promise<SigningKeyEntity> {
    return this.repo.findOneByOrFail({ kid });
  }

  /** Records that the key signed a token valid until `until` (epoch seconds); never moves it back. */
  async extendSignedUntil(kid: string, until: number): Promise<void> {
    await this.database.query(`UPDATE signing_keys SET signed_until = greatest(signed_until, to_timestamp($2)) WHERE kid = $1`, [kid, until]);
  }
}
