import { expect } from '@jest/globals';
import { OAuthError } from '../../src/common/oauth-error.js';

/**
 * Asserts an OAuth error response (RFC 6749 §5.2; README, HTTP API): the status, a JSON body whose
 * `error` is the code, no stack trace or HTML, and an `error_description`
 * that mentions each of `mentions`. Returns the parsed body.
 */
export async function expectOAuthError(res: Response, status: number, error: string, ...mentions: string[]): Promise<Record<string, string>> {
  const text = await res.text();
  // Status and body in one assertion, so a failure shows what the server said.
  expect({ status: res.status, body: text }).toEqual({ status, body: expect.stringContaining(`"error":"${error}"`) });
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(text).not.toMatch(/\n\s+at |<html|node_modules/i);
  const body = JSON.parse(text) as Record<string, string>;
  expect(body.error).toBe(error);
  for (const m of mentions) expect(String(body.error_description)).toContain(m);
  return body;
}

/** Runs fn, which must throw an OAuthError, and returns that error. */
export function thrownOAuthError(fn: () => unknown): OAuthError {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  if (thrown === undefined) throw new Error('expected an OAuthError, but nothing was thrown');
  expect(thrown).toBeInstanceOf(OAuthError);
  return thrown as OAuthError;
}
