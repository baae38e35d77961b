// The shape checks of the login and consent apps' answers (accept and reject bodies).
import { describe, expect, it } from '@jest/globals';
import { AcceptConsentRequestDto, AcceptLoginRequestDto, checkedAnswer, RejectRequestDto } from '../../src/authorization/login-consent.dto.js';
import { OAuthError } from '../../src/common/oauth-error.js';

function refusal(check: () => unknown): { code: string; description?: string } {
  try {
    check();
  } catch (err) {
    if (err instanceof OAuthError) return { code: err.code, description: err.description };
    throw err;
  }
  throw new Error('the body was accepted');
}

describe('checkedAnswer', () => {
  it('accepts a full login answer and ignores fields it does not know', () => {
    const answer = checkedAnswer(AcceptLoginRequestDto, { subject: 'alice', remember: true, remember_for: 60, acr: '1', amr: ['pwd'], context: { a: 1 }, extra: 1 });
    expect(answer).toMatchObject({ subject: 'alice', remember: true, remember_for: 60, acr: '1', amr: ['pwd'], context: { a: 1 } });
  });

  it('treats null like an absent optional field', () => {
    expect(checkedAnswer(AcceptConsentRequestDto, { grant_scope: null, remember: null, session: null }).remember).toBeNull();
  });

  it.each([
    [{}, 'subject is required'],
    [{ subject: '' }, 'subject is required'],
    [{ subject: 'x'.repeat(256) }, 'subject is required'],
    [{ subject: 'a', remember: 'yes' }, 'remember must be a boolean'],
    [{ subject: 'a', remember_for: 1.5 }, 'remember_for must be a non-negative integer'],
    [{ subject: 'a', remember_for: -1 }, 'remember_for must be a non-negative integer'],
    [{ subject: 'a', acr: 5 }, 'acr must be a string of at most 1024 characters'],
    [{ subject: 'a', amr: ['pwd', 1] }, 'amr must be an array of strings'],
    [{ subject: 'a', context: [] }, 'context must be an object'],
    // The first field in error is named: subject before remember_for.
    [{ remember_for: -1 }, 'subject is required'],
  ])('refuses the login answer %j as invalid_request naming the field', (body, description) => {
    const { code, description: got } = refusal(() => checkedAnswer(AcceptLoginRequestDto, body));
    expect(code).toBe('invalid_request');
    expect(got).toContain(description);
  });

  it.each([
    [{ grant_scope: 'openid' }, 'grant_scope must be an array of strings'],
    [{ grant_access_token_audience: Array(101).fill('a') }, 'grant_access_token_audience must be an array of strings'],
    [{ session: 'x' }, 'session must be an object'],
    [{ session: { id_token: [] } }, 'id_token must be an object'],
    // A field before the fields nested in another: remember before session.id_token.
    [{ session: { access_token: 1 }, remember: 1 }, 'remember must be a boolean'],
  ])('refuses the consent answer %j as invalid_request naming the field', (body, description) => {
    const { code, description: got } = refusal(() => checkedAnswer(AcceptConsentRequestDto, body));
    expect(code).toBe('invalid_request');
    expect(got).toContain(description);
  });

  it.each([
    [{ error: 'access denied' }, 'error must be an OAuth error code'],
    [{ error: 'x'.repeat(129) }, 'error must be a string of at most 128 characters'],
    [{ error_description: 'say "no"' }, 'printable ASCII'],
    [{ error_hint: 'é' }, 'printable ASCII'],
    // A field of the wrong type before a string of the wrong form.
    [{ error: 'a b', error_hint: 60 }, 'error_hint must be a string'],
  ])('refuses the rejection %j as invalid_request naming the field', (body, description) => {
    const { code, description: got } = refusal(() => checkedAnswer(RejectRequestDto, body));
    expect(code).toBe('invalid_request');
    expect(got).toContain(description);
  });
});
