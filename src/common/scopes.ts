// Space-delimited lists (scope, audience, prompt, acr_values, ui_locales) and
// the two questions the token and authorization endpoints ask of them: is
// every requested scope, and every requested audience, one the client has?
import { OAuthError } from './oauth-error.js';

/** RFC 6749 §3.3: a space-delimited list, without empty entries or repeats. */
export function splitScope(value: string | undefined): string[] {
  return [...new Set((value ?? '').split(' ').filter((s) => s !== ''))];
}

/** The requested scope, or all of the client's when none was requested; invalid_scope names what is beyond them. */
export function grantedScope(requested: string | undefined, clientScope: unknown): string[] {
  const allowed = splitScope(typeof clientScope === 'string' ? clientScope : undefined);
  if (requested === undefined) return allowed;
  const scope = splitScope(requested);
  const refused = scope.filter((s) => !allowed.includes(s));
  if (refused.length > 0) throw new OAuthError('invalid_scope', `the client may not request: ${refused.join(' ')}`);
  return scope;
}

/**
 * The requested audiences (each value may itself be space-delimited), every
 * one of which must be in the client's audience; invalid_request names the rest.
 */
export function grantedAudience(requested: readonly string[], clientAudience: unknown): string[] {
  const allowed = Array.isArray(clientAudience) ? (clientAudience as string[]) : [];
  const audience = [...new Set(requested.flatMap((a) => splitScope(a)))];
  const outside = audience.filter((a) => !allowed.includes(a));
  if (outside.length > 0) throw new OAuthError('invalid_request', `the client may not request the audience: ${outside.join(' ')}`);
  return audience;
}
