// README, Access tokens and the strategy: the DCR key and the global key decide the format of a DCR client's access tokens.
export type Strategy = 'opaque' | 'jwt';

export const STRATEGY_MATRIX: ReadonlyArray<{ dcr: Strategy | undefined; global: Strategy; dcrClientGets: Strategy; dcrLabel: string }> = [
  { dcr: undefined, global: 'opaque', dcrClientGets: 'opaque', dcrLabel: 'unset' },
  { dcr: undefined, global: 'jwt', dcrClientGets: 'jwt', dcrLabel: 'unset' },
  { dcr: 'opaque', global: 'jwt', dcrClientGets: 'opaque', dcrLabel: 'opaque' },
  { dcr: 'jwt', global: 'opaque', dcrClientGets: 'jwt', dcrLabel: 'jwt' },
];

/** The environment of an app with these two keys. */
export function strategyEnv(dcr: Strategy | undefined, global: Strategy): Record<string, string> {
  return { STRATEGIES_ACCESS_TOKEN: global, ...(dcr ? { OIDC_DYNAMIC_CLIENT_REGISTRATION_STRATEGIES_ACCESS_TOKEN: dcr } : {}) };
}
