// The flow's single-use values (login and consent challenges and verifiers,
// the flow cookie) are random and stored only as keyed hashes under the
// system secrets: rotating secrets.system keeps flows in progress readable.
import { keyedHash, keyedHashes } from '../common/secrets.js';
import type { ConfigService } from '../config/config.service.js';

/** The hash new values are stored under (the first system secret). */
export function flowHash(config: ConfigService, value: string): string {
  return keyedHash(config.systemSecrets()[0], value);
}

/** The hashes under every system secret, to look a presented value up. */
export function flowHashes(config: ConfigService, value: string): string[] {
  return keyedHashes(config.systemSecrets(), value);
}

/** `base` with one query parameter set: how challenges and verifiers travel to the apps and back. */
export function withParam(base: string, name: string, value: string): string {
  const url = new URL(base);
  url.searchParams.set(name, value);
  return url.toString();
}
