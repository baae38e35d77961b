// Parsers for the operator CLI's numeric options: a bad value is a usage error
// (exit code 2) naming the option, raised before any request is sent.
import { InvalidArgumentError } from 'commander';
import { parseDuration } from '../config/parsers.js';

/** A whole number from 1 up, e.g. `--max-uses 5`. */
export function positiveInteger(value: string): number {
  if (!/^\d+$/.test(value.trim()) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new InvalidArgumentError('expected a whole number of at least 1.');
  }
  return Number(value);
}

/**
 * A lifetime in seconds or a duration such as 12h or 7d, which the admin API
 * accepts as `expires_in` (README "HTTP API"): seconds are sent as a number,
 * a duration as the string given.
 */
export function lifetime(value: string): number | string {
  const seconds = parseDuration(value);
  if (seconds === undefined || seconds < 1) throw new InvalidArgumentError('expected seconds or a duration such as 15m, 12h or 7d.');
  return /^\d+$/.test(value.trim()) ? seconds : value.trim();
}

/**
 * How long a replaced client secret keeps working (`--overlap`): seconds or a
 * duration such as 1h; 0 ends it at once. Sent as `previous_secret_expires_in`.
 */
export function overlap(value: string): number | string {
  const seconds = parseDuration(value);
  if (seconds === undefined) throw new InvalidArgumentError('expected 0, seconds or a duration such as 15m, 12h or 7d.');
  return /^\d+$/.test(value.trim()) ? seconds : value.trim();
}
