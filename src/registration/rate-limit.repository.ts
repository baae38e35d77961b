import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.js';

/** Fixed-window hit counters in PostgreSQL, shared by every instance (the janitor drops old windows). */
@Injectable()
export class RateLimitRepository {
  constructor(private readonly database: Database) {}

  /** Counts one hit of `key` in the window starting at `windowStart` (epoch seconds); returns the window's count so far. */
  async hit(key: string, windowStart: number): Promise<number> {
    const rows = await this.database.run<{ count: number }>(
      'rate_limit_hit',
      `INSERT INTO rate_limit_hits (key, window_start, count) VALUES ($1, $2, 1)
       ON CONFLICT (key, window_start) DO UPDATE SET count = rate_limit_hits.count + 1
       RETURNING count`,
      [key, windowStart],
    );
    return rows[0].count;
  }
}
