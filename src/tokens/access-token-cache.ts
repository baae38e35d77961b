// Active opaque access tokens as introspection last read them, per instance
// (README "Performance": the token cache). Every revocation or deletion of an
// unexpired token drops the whole cache here and, through the access_tokens
// trigger's NOTIFY, in every instance.
import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.js';
import { DatabaseEvents } from '../database/database-events.js';
import type { ActiveAccessToken } from './access-tokens.repository.js';

/** What the access_tokens trigger (migration 1764300000000) publishes when an unexpired, unrevoked token is revoked or deleted. */
export const ACCESS_TOKENS_REVOKED = 'access-tokens-revoked';
const TOKEN_CACHE_MS = 30_000;
const TOKEN_CACHE_MAX = 5_000;

/** A cached token and whether its client was a stored one when it was read (a metadata document's client has no row). */
export interface CachedAccessToken {
  token: ActiveAccessToken;
  storedClient: boolean;
}

/** Where a read began: `store` keeps its result only if nothing was invalidated since. */
export interface CacheTicket {
  readonly generation: number;
  readonly usable: boolean;
}

@Injectable()
export class AccessTokenCache {
  /** By the token's keyed hash under the first system secret; never by the token itself. Oldest first. */
  private readonly entries = new Map<string, CachedAccessToken & { until: number }>();
  /** Bumped by every invalidation, so a read that raced one is not cached. */
  private generation = 0;

  constructor(
    private readonly database: Database,
    private readonly events: DatabaseEvents,
  ) {
    // The signal names no token: a dropped cache is re-read one token at a time. A resync (undefined) drops it too.
    if (!database.embedded) events.subscribe(ACCESS_TOKENS_REVOKED, () => this.clear());
  }

  /**
   * Off on the embedded database (one process, read-through: no revocation
   * path has to remember to signal), and while the notification connection
   * is down (another instance's revocation could go unseen).
   */
  private get usable(): boolean {
    return !this.database.embedded && this.events.live;
  }

  get(key: string): CachedAccessToken | undefined {
    if (!this.usable) return undefined;
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (Date.now() < entry.until) return entry;
    this.entries.delete(key);
    return undefined;
  }

  /** Taken before the database read whose result may be stored. */
  ticket(): CacheTicket {
    return { generation: this.generation, usable: this.usable };
  }

  /**
   * Keeps an active token read after `ticket` was taken, unless the cache was
   * dropped meanwhile; kept TOKEN_CACHE_MS at most, and never past the token's exp.
   */
  store(key: string, entry: CachedAccessToken, ticket: CacheTicket): void {
    if (!ticket.usable || ticket.generation !== this.generation || !this.usable) return;
    const until = Math.min(Date.now() + TOKEN_CACHE_MS, entry.token.expiresAt * 1000);
    if (until <= Date.now()) return;
    this.entries.delete(key);
    if (this.entries.size >= TOKEN_CACHE_MAX) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(key, { ...entry, until });
  }

  /**
   * Drops every entry here once the current transaction has committed (at
   * once without one), so this instance never answers from a token it has
   * just revoked; the trigger's NOTIFY tells the other instances.
   */
  invalidate(): Promise<void> {
    return this.database.afterCommit(() => this.clear());
  }

  private clear(): void {
    this.generation += 1;
    this.entries.clear();
  }
}
