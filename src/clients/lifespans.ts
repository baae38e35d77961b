// Hydra's per-client token lifespans: a Go duration such as `1h30m0s`, or an
// empty string for the server's ttl.* default (README "Token lifetimes").
import { JWT_BEARER_GRANT, LIFESPANS, type ClientFields } from './client-metadata.js';

/** Grants Registrar does not implement: a lifespan for them could change nothing, so only an empty one is accepted. */
export const UNSERVED_LIFESPANS: readonly string[] = LIFESPANS.filter((name) =>
  /^(device_authorization|implicit)_grant_/.test(name),
);

const GO_DURATION = /^([0-9]+(ns|us|ms|s|m|h))+$/;
const UNIT_SECONDS: Record<string, number> = { ns: 1e-9, us: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
/** Longest lifespan accepted: 10 years, far beyond any sensible token and well inside every timestamp type. */
export const MAX_LIFESPAN_SECONDS = 87_600 * 3600;

/** Whole seconds of a Go duration (`1h30m0s`, `90s`, `1500ms`), or undefined when it is not one. */
export function goDurationSeconds(value: string): number | undefined {
  if (!GO_DURATION.test(value)) return undefined;
  let seconds = 0;
  for (const [, amount, unit] of value.matchAll(/([0-9]+)(ns|us|ms|s|m|h)/g)) seconds += Number(amount) * UNIT_SECONDS[unit];
  return Math.floor(seconds);
}

/** Hydra's lifespan field prefix of grant types whose grant_type value is a URN. */
const LIFESPAN_PREFIX: Record<string, string> = { [JWT_BEARER_GRANT]: 'jwt_bearer' };

export type LifespanToken = 'access_token' | 'id_token' | 'refresh_token';

/**
 * The client's lifespan in seconds for a token issued by a grant
 * (`client_credentials`, `authorization_code`, `refresh_token`), or undefined
 * when the client sets none and the ttl.* default applies.
 */
export function clientLifespan(fields: ClientFields, grantType: string, token: LifespanToken): number | undefined {
  const value = fields[`${LIFESPAN_PREFIX[grantType] ?? grantType}_grant_${token}_lifespan`];
  return typeof value === 'string' && value !== '' ? goDurationSeconds(value) : undefined;
}
