import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager, type Repository } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import type { PageRequest } from '../common/pagination.js';
import { Database } from '../database/database.js';
import { InitialAccessTokenEntity } from './initial-access-token.entity.js';

@Injectable()
export class InitialAccessTokensRepository {
  constructor(
    private readonly dataSource: DataSource,
    private readonly database: Database,
  ) {}

  private repo(manager?: EntityManager): Repository<InitialAccessTokenEntity> {
    return (manager ?? this.dataSource.manager).getRepository(InitialAccessTokenEntity);
  }

  async insert(iat: InitialAccessTokenEntity): Promise<void> {
    await this.repo().insert(iat as QueryDeepPartialEntity<InitialAccessTokenEntity>);
  }

  findById(id: string): Promise<InitialAccessTokenEntity | null> {
    return this.repo().findOneBy({ id });
  }

  async findByTokenHash(tokenHash: string): Promise<InitialAccessTokenEntity | null> {
    const rows = await this.database.run<Record<string, unknown>>(
      'iat_by_hash',
      `SELECT id, token_hash, description, policies, max_uses, uses, expires_at, created_at FROM initial_access_tokens WHERE token_hash = $1`,
      [tokenHash],
    );
    if (!rows[0]) return null;
    const r = rows[0];
    return Object.assign(new InitialAccessTokenEntity(), {
      id: r.id,
      tokenHash: r.token_hash,
      description: r.description,
      policies: r.policies,
      maxUses: r.max_uses,
      uses: r.uses,
      expiresAt: r.expires_at,
      createdAt: r.created_at,
    });
  }

  page(page: PageRequest): Promise<InitialAccessTokenEntity[]> {
    const qb = this.repo().createQueryBuilder('t').orderBy('t.id', 'ASC').limit(page.pageSize + 1);
    if (page.after !== undefined) qb.andWhere('t.id > :after', { after: page.after });
    return qb.getMany();
  }

  async deleteById(id: string): Promise<boolean> {
    const result = await this.repo().delete({ id });
    return (result.affected ?? 0) > 0;
  }

  /**
   * Counts one use if the token still has one and has not expired. The
   * conditional UPDATE takes the row lock, so concurrent registrations
   * serialise here and never exceed max_uses; inside the caller's transaction,
   * a registration that fails afterwards gives the use back.
   */
  async consumeUse(id: string, manager: EntityManager): Promise<boolean> {
    const result = await this.repo(manager)
      .createQueryBuilder()
      .update(InitialAccessTokenEntity)
      .set({ uses: () => 'uses + 1' })
      .where('id = :id AND uses < max_uses AND (expires_at IS NULL OR expires_at > now())', { id })
      .execute();
    return (result.affected ?? 0) > 0;
  }
}
