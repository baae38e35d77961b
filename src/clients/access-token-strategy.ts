// How a client's access token format is decided (README, "Access tokens and the strategy").
import type { AccessTokenStrategy } from '../config/schema.js';
import type { CreatedVia } from './client.entity.js';

/**
 * The strategy stored on a new client. Through DCR it is the configured DCR
 * strategy (or nothing); through the admin API it is what the admin chose.
 * A registrant's own wishes never reach this function.
 */
export function strategyAtCreation(
  via: CreatedVia,
  dcrStrategy: AccessTokenStrategy | undefined,
  adminChoice: AccessTokenStrategy | null,
): AccessTokenStrategy | null {
  return via === 'dcr' ? (dcrStrategy ?? null) : adminChoice;
}

/** The format of a token issued now: the client's stored strategy, else the global one. */
export function effectiveStrategy(stored: AccessTokenStrategy | null, global: AccessTokenStrategy): AccessTokenStrategy {
  return stored ?? global;
}
