import { describe, expect, it } from '@jest/globals';
import { effectiveStrategy, strategyAtCreation } from '../../src/clients/access-token-strategy.js';
import type { AccessTokenStrategy } from '../../src/config/schema.js';

type Dcr = AccessTokenStrategy | undefined;
const DCR_KEYS: Dcr[] = [undefined, 'opaque', 'jwt'];
const GLOBALS: AccessTokenStrategy[] = ['opaque', 'jwt'];
const ADMIN_CHOICES: Array<AccessTokenStrategy | null> = [null, 'opaque', 'jwt'];

/** The matrix of README, Access tokens and the strategy, written out: DCR key / global key -> a DCR client's tokens. */
const BEHAVIOUR_MATRIX: Array<[Dcr, AccessTokenStrategy, AccessTokenStrategy]> = [
  [undefined, 'opaque', 'opaque'],
  [undefined, 'jwt', 'jwt'],
  ['opaque', 'jwt', 'opaque'],
  ['jwt', 'opaque', 'jwt'],
];

describe('access token strategy', () => {
  it.each(BEHAVIOUR_MATRIX)('with the DCR key %s and the global key %s, a DCR client gets %s tokens', (dcr, global, expected) => {
    expect(effectiveStrategy(strategyAtCreation('dcr', dcr, null), global)).toBe(expected);
  });

  for (const dcr of DCR_KEYS) {
    for (const global of GLOBALS) {
      for (const admin of ADMIN_CHOICES) {
        it(`DCR key ${dcr ?? 'unset'}, global ${global}, admin choice ${admin ?? 'none'}: each door decides by its own rule`, () => {
          // A DCR client stores the DCR key (or nothing) whatever an admin body would have said.
          const dcrClient = effectiveStrategy(strategyAtCreation('dcr', dcr, admin), global);
          expect(dcrClient).toBe(dcr ?? global);
          // An admin client ignores the DCR key and follows the admin's choice, else the global key.
          const adminClient = effectiveStrategy(strategyAtCreation('admin', dcr, admin), global);
          expect(adminClient).toBe(admin ?? global);
        });
      }
    }
  }

  it('a stored strategy outlives a change of configuration; an empty one follows it', () => {
    const stored = strategyAtCreation('dcr', 'jwt', null);
    expect(effectiveStrategy(stored, 'opaque')).toBe('jwt');
    const empty = strategyAtCreation('dcr', undefined, null);
    expect(effectiveStrategy(empty, 'opaque')).toBe('opaque');
    expect(effectiveStrategy(empty, 'jwt')).toBe('jwt');
  });
});
