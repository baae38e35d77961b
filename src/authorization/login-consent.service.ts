// The authorization flow between /oauth2/auth and the code, with the login
// and consent screens delegated to the operator's app over the admin API
// (Hydra's model and names). One row per flow; each challenge and verifier is
// random, stored as a keyed hash, and good for one answer before it expires.
import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { ClientsService } from '../clients/clients.service.js';
import { readCookies, setCookie, signCookieValue, verifyCookieValue } from '../common/cookies.js';
import type { HttpReply, HttpRequest } from '../common/http.js';
import { OAuthError } from '../common/oauth-error.js';
import { keyedHash, keyedHashes, randomToken, safeEqual } from '../common/secrets.js';
import { ConfigService } from '../config/config.service.js';
import { Database } from '../database/database.js';
import { GrantsService, type GrantSession } from '../tokens/grants.service.js';
import { authorizationResponseUrl, RedirectableError, type AuthorizationRequest } from './authorization-request.js';

export const SESSION_COOKIE = 'registrar_session';
/** A login remembered "for the browser session" still ends on the server after this long (the browser may never close). */
const BROWSER_SESSION_CAP_S = 30 * 86400;
const CSRF_COOKIE_PREFIX = 'registrar_csrf_';

type FlowState = 'login_requested' | 'login_accepted' | 'login_rejected' | 'consent_requested' | 'consent_accepted' | 'consent_rejected' | 'done';

interface LoginResult {
  subject: string;
  remember: boolean;
  remember_for: number;
  acr: string;
  amr: string[];
  context: Record<string, unknown>;
  auth_time: number;
}

interface ConsentResult {
  grant_scope: string[];
  grant_access_token_audience: string[];
  remember: boolean;
  remember_for: number;
  session: GrantSession;
}

interface FlowRow {
  id: string;
  client_id: string;
  state: FlowState;
  request: AuthorizationRequest;
  csrf_hash: string;
  login_session_id: string | null;
  login_skip: boolean;
  consent_skip: boolean;
  subject: string | null;
  login: LoginResult | null;
  consent: ConsentResult | null;
  error: { error: string; error_description?: string } | null;
  requested_at: Date;
  live: boolean;
}

export interface SessionRow {
  id: string;
  subject: string;
  authenticated_at: number;
  acr: string;
  amr: string[];
}

export interface LoginRequestView {
  challenge: string;
  client: Record<string, unknown>;
  request_url: string;
  requested_scope: string[];
  requested_access_token_audience: string[];
  skip: boolean;
  subject: string;
  session_id?: string;
  oidc_context: Record<string, unknown>;
  requested_at: string;
}

export interface ConsentRequestView extends LoginRequestView {
  acr: string;
  amr: string[];
  context: Record<string, unknown>;
  login_session_id?: string;
}

/**
 * Reading a login or consent request that was already answered: as in Hydra,
 * the app gets 410 with the original authorization URL to send the browser
 * back to, which starts the flow afresh.
 */
export class RequestAlreadyHandled extends Error {
  constructor(readonly redirectTo: string) {
    super('the request was already handled');
  }
}

/** A browser redirect the authorization endpoint answers with. */
export interface Redirect {
  location: string;
}

const FLOW_COLUMNS = `id, client_id, state, request, csrf_hash, login_session_id, login_skip, consent_skip, subject, login, consent, error,
  requested_at, expires_at > now() AS live`;

/** RFC 6749 §4.1.2.1: error and error_description are printable ASCII without " and \. */
const ERROR_TEXT = /^[\x20\x21\x23-\x5B\x5D-\x7E]*$/;

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function optionalString(body: Record<string, unknown>, name: string, max = 1024): string | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length > max) throw new OAuthError('invalid_request', `${name} must be a string of at most ${max} characters`);
  return value;
}

function optionalStrings(body: Record<string, unknown>, name: string): string[] {
  const value = body[name];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.length > 100 || !value.every((v) => typeof v === 'string' && v.length <= 1024)) {
    throw new OAuthError('invalid_request', `${name} must be an array of strings`);
  }
  return [...new Set(value as string[])];
}

function optionalObject(body: Record<string, unknown>, name: string): Record<string, unknown> {
  const value = body[name];
  if (value === undefined || value === null) return {};
  if (!isObject(value)) throw new OAuthError('invalid_request', `${name} must be an object`);
  return value;
}

function rememberFields(body: Record<string, unknown>): { remember: boolean; remember_for: number } {
  const remember = body.remember ?? false;
  const rememberFor = body.remember_for ?? 0;
  if (typeof remember !== 'boolean') throw new OAuthError('invalid_request', 'remember must be a boolean');
  if (typeof rememberFor !== 'number' || !Number.isInteger(rememberFor) || rememberFor < 0 || rememberFor > 10 * 365 * 86400) {
    throw new OAuthError('invalid_request', 'remember_for must be a non-negative integer number of seconds (0 = the browser session)');
  }
  return { remember, remember_for: rememberFor };
}

@Injectable()
export class LoginConsentService {
  constructor(
    private readonly database: Database,
    private readonly config: ConfigService,
    private readonly clients: ClientsService,
    private readonly grants: GrantsService,
  ) {}

  private hash(value: string): string {
    return keyedHash(this.config.systemSecrets()[0], value);
  }

  private hashes(value: string): string[] {
    return keyedHashes(this.config.systemSecrets(), value);
  }

  private get secureCookies(): boolean {
    return this.config.issuer().startsWith('https:');
  }

  private now(): number {
    return Math.floor(Date.now() / 1000);
  }

  // ---- the browser side: /oauth2/auth ----

  /** A validated request: skip decisions from the session cookie, a new flow, and the redirect to the login app. */
  async start(request: AuthorizationRequest, req: HttpRequest, res: HttpReply): Promise<Redirect> {
    const session = await this.currentSession(req);
    const forceLogin = request.prompt.includes('login') || request.prompt.includes('select_account');
    const tooOld = session !== undefined && request.max_age !== undefined && this.now() - session.authenticated_at > request.max_age;
    const skip = session !== undefined && !forceLogin && !tooOld;
    if (request.prompt.includes('none') && !skip) {
      throw new RedirectableError('login_required', 'prompt=none, and there is no usable login session', request.redirect_uri, request.state, request.client_id);
    }
    const id = randomUUID();
    const challenge = randomToken(32);
    const csrf = randomToken(32);
    await this.database.run(
      'flow_insert',
      `INSERT INTO authorization_flows (id, client_id, state, request, csrf_hash, login_challenge_hash, login_session_id, login_skip, subject, expires_at)
       VALUES ($1, $2, 'login_requested', $3, $4, $5, $6, $7, $8, now() + make_interval(secs => $9))`,
      [
        id,
        request.client_id,
        JSON.stringify(request),
        this.hash(csrf),
        this.hash(challenge),
        session?.id ?? null,
        skip,
        skip ? session.subject : null,
        this.config.get('ttl.login_consent_request'),
      ],
    );
    // Binds the flow to this browser: the verifiers only continue it where this cookie is sent.
    setCookie(res, `${CSRF_COOKIE_PREFIX}${id.slice(0, 8)}`, csrf, {
      path: '/oauth2/auth',
      maxAge: this.config.get('ttl.login_consent_request'),
      secure: this.secureCookies,
    });
    return { location: withParam(this.config.loginUrl(), 'login_challenge', challenge) };
  }

  /** The browser is back from the login app (login_verifier): on to the consent app, or the error back to the client. */
  async afterLogin(verifier: string, req: HttpRequest, res: HttpReply): Promise<Redirect> {
    const flow = await this.takeVerifier('login', verifier, req);
    if (flow.state === 'login_rejected') return this.finishWithError(flow, res);
    const login = flow.login!;
    let sessionId = flow.login_session_id;
    let authTime = login.auth_time;
    if (flow.login_skip) {
      const [session] = await this.database.run(
        'session_auth_time',
        `SELECT extract(epoch FROM authenticated_at)::bigint AS t FROM login_sessions WHERE id = $1`,
        [sessionId],
      );
      authTime = session ? Number(session.t) : authTime;
    } else if (login.remember) {
      sessionId = await this.rememberLogin(login, res);
    } else {
      sessionId = null;
    }
    const client = await this.clients.find(flow.client_id);
    if (!client) throw new OAuthError('invalid_request', 'the client of this request no longer exists', { status: 400 });
    const skipConsent = client.fields.skip_consent === true || (await this.rememberedConsent(flow, login.subject)) !== undefined;
    const consentSkip = skipConsent && !flow.request.prompt.includes('consent');
    if (flow.request.prompt.includes('none') && !consentSkip) {
      await this.setState(flow.id, 'done');
      this.clearCsrf(flow, res);
      // Decided by the server alone: with prompt=none the login app only confirmed a remembered session.
      throw new RedirectableError(
        'consent_required',
        'prompt=none, and consent was not given before',
        flow.request.redirect_uri,
        flow.request.state,
        flow.client_id,
      );
    }
    const challenge = randomToken(32);
    await this.database.run(
      'flow_consent',
      `UPDATE authorization_flows SET state = 'consent_requested', consent_challenge_hash = $2, consent_skip = $3,
              login_session_id = $4, subject = $5, login = $6
        WHERE id = $1`,
      [flow.id, this.hash(challenge), consentSkip, sessionId, login.subject, JSON.stringify({ ...login, auth_time: authTime })],
    );
    return { location: withParam(this.config.consentUrl(), 'consent_challenge', challenge) };
  }

  /** The browser is back from the consent app (consent_verifier): the code, or the error, to the client. */
  async afterConsent(verifier: string, req: HttpRequest, res: HttpReply): Promise<Redirect> {
    const flow = await this.takeVerifier('consent', verifier, req);
    if (flow.state === 'consent_rejected') return this.finishWithError(flow, res);
    const login = flow.login!;
    const consent = flow.consent!;
    if (consent.remember && !flow.consent_skip) {
      await this.database.run(
        'consent_remember',
        `INSERT INTO consent_sessions (id, subject, client_id, granted_scope, granted_audience, session, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7::int > 0 THEN now() + make_interval(secs => $7) END)`,
        [
          randomUUID(),
          login.subject,
          flow.client_id,
          JSON.stringify(consent.grant_scope),
          JSON.stringify(consent.grant_access_token_audience),
          JSON.stringify(consent.session),
          consent.remember_for,
        ],
      );
    }
    const code = await this.grants.createGrant({
      clientId: flow.client_id,
      subject: login.subject,
      scope: consent.grant_scope,
      audience: consent.grant_access_token_audience,
      authTime: new Date(login.auth_time * 1000),
      acr: login.acr,
      amr: login.amr,
      loginSessionId: flow.login_session_id ?? undefined,
      session: consent.session,
      redirectUri: flow.request.redirect_uri_sent ? flow.request.redirect_uri : undefined,
      codeChallenge: flow.request.code_challenge,
      nonce: flow.request.nonce,
    });
    this.clearCsrf(flow, res);
    return {
      location: authorizationResponseUrl(flow.request.redirect_uri, this.config.issuer(), { code, state: flow.request.state }),
    };
  }

  private finishWithError(flow: FlowRow, res: HttpReply): Redirect {
    this.clearCsrf(flow, res);
    const { error, error_description } = flow.error!;
    return {
      location: authorizationResponseUrl(flow.request.redirect_uri, this.config.issuer(), {
        error,
        error_description,
        state: flow.request.state,
      }),
    };
  }

  private clearCsrf(flow: FlowRow, res: HttpReply): void {
    setCookie(res, `${CSRF_COOKIE_PREFIX}${flow.id.slice(0, 8)}`, '', { path: '/oauth2/auth', maxAge: 0, secure: this.secureCookies });
  }

  /** Spends a verifier: it must be live, answered, unspent, and arrive in the browser that started the flow. */
  private async takeVerifier(step: 'login' | 'consent', verifier: string, req: HttpRequest): Promise<FlowRow> {
    const answered = step === 'login' ? ['login_accepted', 'login_rejected'] : ['consent_accepted', 'consent_rejected'];
    const [row] = await this.database.run(
      `flow_take_${step}`,
      `UPDATE authorization_flows SET ${step}_verifier_hash = NULL
        WHERE ${step}_verifier_hash = ANY($1) AND state = ANY($2) AND expires_at > now()
        RETURNING ${FLOW_COLUMNS}`,
      [this.hashes(verifier), answered],
    );
    if (!row) throw new OAuthError('invalid_request', `the ${step}_verifier is unknown, expired or was already used`);
    const flow = row as FlowRow;
    const csrf = readCookies(req).get(`${CSRF_COOKIE_PREFIX}${flow.id.slice(0, 8)}`);
    if (!csrf || !safeEqual(this.hash(csrf), flow.csrf_hash)) {
      await this.setState(flow.id, 'done');
      throw new OAuthError('invalid_request', 'this authorization request was started in another browser (the flow cookie is missing or wrong)');
    }
    return flow;
  }

  private async setState(id: string, state: FlowState): Promise<void> {
    await this.database.run('flow_state', `UPDATE authorization_flows SET state = $2 WHERE id = $1`, [id, state]);
  }

  // ---- sessions ----

  /** The browser's live login session: its signed cookie names a session that is neither revoked nor expired. */
  async currentSession(req: HttpRequest): Promise<SessionRow | undefined> {
    const id = verifyCookieValue(readCookies(req).get(SESSION_COOKIE), this.config.systemSecrets());
    if (!id) return undefined;
    const [row] = await this.database.run(
      'session_live',
      `SELECT id, subject, extract(epoch FROM authenticated_at)::bigint AS authenticated_at, acr, amr FROM login_sessions
        WHERE id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`,
      [id],
    );
    return row ? ({ ...row, authenticated_at: Number(row.authenticated_at) } as SessionRow) : undefined;
  }

  /** Creates the remembered login session and its signed, HttpOnly, SameSite=Lax cookie. */
  private async rememberLogin(login: LoginResult, res: HttpReply): Promise<string> {
    const id = randomToken(32);
    await this.database.run(
      'session_insert',
      `INSERT INTO login_sessions (id, subject, authenticated_at, acr, amr, remember, expires_at)
       VALUES ($1, $2, to_timestamp($3), $4, $5, true, now() + make_interval(secs => $6))`,
      [id, login.subject, login.auth_time, login.acr, JSON.stringify(login.amr), login.remember_for || BROWSER_SESSION_CAP_S],
    );
    setCookie(res, SESSION_COOKIE, signCookieValue(id, this.config.systemSecrets()), {
      path: '/',
      maxAge: login.remember_for > 0 ? login.remember_for : undefined,
      secure: this.secureCookies,
    });
    return id;
  }

  private async rememberedConsent(flow: FlowRow, subject: string): Promise<string | undefined> {
    const rows: Array<{ id: string; granted_scope: string[]; granted_audience: string[] }> = await this.database.run(
      'consent_remembered',
      `SELECT id, granted_scope, granted_audience FROM consent_sessions
        WHERE subject = $1 AND client_id = $2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
        ORDER BY created_at DESC LIMIT 20`,
      [subject, flow.client_id],
    );
    const covers = (granted: string[], wanted: string[]) => wanted.every((w) => granted.includes(w));
    return rows.find((r) => covers(r.granted_scope, flow.request.scope) && covers(r.granted_audience, flow.request.audience))?.id;
  }

  /** RP-initiated logout and the admin API: ends login sessions by id or by subject. */
  async revokeLoginSessions(by: { ids?: string[]; subject?: string }): Promise<number> {
    const rows = await this.database.run(
      'sessions_revoke',
      `UPDATE login_sessions SET revoked_at = now()
        WHERE revoked_at IS NULL AND (id = ANY($1) OR subject = $2) RETURNING id`,
      [by.ids ?? [], by.subject ?? null],
    );
    return rows.length;
  }

  /** Revokes remembered consent and every token issued under it, for one client or all. */
  async revokeConsent(subject: string, clientId?: string): Promise<void> {
    await this.database.run(
      'consent_revoke',
      `UPDATE consent_sessions SET revoked_at = now() WHERE subject = $1 AND ($2::text IS NULL OR client_id = $2) AND revoked_at IS NULL`,
      [subject, clientId ?? null],
    );
    await this.grants.revokeGrantsOf(subject, clientId);
  }

  sessionIdFromCookie(req: HttpRequest): string | undefined {
    return verifyCookieValue(readCookies(req).get(SESSION_COOKIE), this.config.systemSecrets());
  }

  clearSessionCookie(res: HttpReply): void {
    setCookie(res, SESSION_COOKIE, '', { path: '/', maxAge: 0, secure: this.secureCookies });
  }

  // ---- the login and consent app's side: the admin API ----

  private async flowByChallenge(step: 'login' | 'consent', challenge: string | undefined): Promise<FlowRow> {
    if (!challenge) throw new OAuthError('invalid_request', `${step}_challenge is required`);
    const [row] = await this.database.run(
      `flow_by_${step}_challenge`,
      `SELECT ${FLOW_COLUMNS} FROM authorization_flows WHERE ${step}_challenge_hash = ANY($1)`,
      [this.hashes(challenge)],
    );
    if (!row || !row.live) throw new OAuthError('not_found', `the ${step} request is unknown or has expired`);
    return row as FlowRow;
  }

  private async view(flow: FlowRow, challenge: string): Promise<LoginRequestView> {
    const client = await this.clients.find(flow.client_id);
    if (!client) throw new OAuthError('not_found', 'the client of this request no longer exists');
    const r = flow.request;
    return {
      challenge,
      client: this.clients.adminView({ client }),
      request_url: r.request_url,
      requested_scope: r.scope,
      requested_access_token_audience: r.audience,
      skip: flow.login_skip,
      subject: flow.subject ?? '',
      ...(flow.login_session_id ? { session_id: flow.login_session_id } : {}),
      oidc_context: {
        acr_values: r.acr_values,
        ui_locales: r.ui_locales,
        ...(r.login_hint !== undefined ? { login_hint: r.login_hint } : {}),
        ...(r.display !== undefined ? { display: r.display } : {}),
      },
      requested_at: new Date(flow.requested_at).toISOString(),
    };
  }

  async loginRequest(challenge: string | undefined): Promise<LoginRequestView> {
    const flow = await this.flowByChallenge('login', challenge);
    if (flow.state !== 'login_requested') throw new RequestAlreadyHandled(flow.request.request_url);
    return this.view(flow, challenge!);
  }

  async consentRequest(challenge: string | undefined): Promise<ConsentRequestView> {
    const flow = await this.flowByChallenge('consent', challenge);
    if (flow.state !== 'consent_requested') throw new RequestAlreadyHandled(flow.request.request_url);
    const base = await this.view(flow, challenge!);
    return {
      ...base,
      skip: flow.consent_skip,
      acr: flow.login!.acr,
      amr: flow.login!.amr,
      context: flow.login!.context,
      ...(flow.login_session_id ? { login_session_id: flow.login_session_id } : {}),
    };
  }

  async acceptLogin(challenge: string | undefined, body: Record<string, unknown>): Promise<{ redirect_to: string }> {
    const flow = await this.flowByChallenge('login', challenge);
    const subject = body.subject;
    if (typeof subject !== 'string' || subject === '' || subject.length > 255) {
      throw new OAuthError('invalid_request', 'subject is required: a string of 1 to 255 characters');
    }
    if (flow.login_skip && subject !== flow.subject) {
      throw new OAuthError('invalid_request', 'the subject differs from the one of the remembered login session (skip was true)');
    }
    const login: LoginResult = {
      subject,
      ...rememberFields(body),
      acr: optionalString(body, 'acr') ?? '',
      amr: optionalStrings(body, 'amr'),
      context: optionalObject(body, 'context'),
      auth_time: this.now(),
    };
    return this.answer('login', flow, 'login_accepted', { login: JSON.stringify(login) });
  }

  async rejectLogin(challenge: string | undefined, body: Record<string, unknown>): Promise<{ redirect_to: string }> {
    const flow = await this.flowByChallenge('login', challenge);
    return this.answer('login', flow, 'login_rejected', { error: JSON.stringify(rejection(body)) });
  }

  async acceptConsent(challenge: string | undefined, body: Record<string, unknown>): Promise<{ redirect_to: string }> {
    const flow = await this.flowByChallenge('consent', challenge);
    const scope = optionalStrings(body, 'grant_scope');
    const notRequested = scope.filter((s) => !flow.request.scope.includes(s));
    if (notRequested.length > 0) throw new OAuthError('invalid_request', `grant_scope names scopes that were not requested: ${notRequested.join(' ')}`);
    const audience = optionalStrings(body, 'grant_access_token_audience');
    const client = await this.clients.find(flow.client_id);
    const allowedAudience = (client?.fields.audience as string[] | undefined) ?? [];
    const outside = audience.filter((a) => !allowedAudience.includes(a));
    if (outside.length > 0) throw new OAuthError('invalid_request', `grant_access_token_audience is outside the client's audience: ${outside.join(' ')}`);
    const session = optionalObject(body, 'session');
    const consent: ConsentResult = {
      grant_scope: scope,
      grant_access_token_audience: audience,
      ...rememberFields(body),
      session: { id_token: optionalObject(session, 'id_token'), access_token: optionalObject(session, 'access_token') },
    };
    return this.answer('consent', flow, 'consent_accepted', { consent: JSON.stringify(consent) });
  }

  async rejectConsent(challenge: string | undefined, body: Record<string, unknown>): Promise<{ redirect_to: string }> {
    const flow = await this.flowByChallenge('consent', challenge);
    return this.answer('consent', flow, 'consent_rejected', { error: JSON.stringify(rejection(body)) });
  }

  /** Records the answer once: a second accept or reject of the same challenge finds the state moved on. */
  private async answer(
    step: 'login' | 'consent',
    flow: FlowRow,
    state: FlowState,
    columns: { login?: string; consent?: string; error?: string },
  ): Promise<{ redirect_to: string }> {
    const verifier = randomToken(32);
    const updated = await this.database.run(
      `flow_answer_${state}`,
      `UPDATE authorization_flows
          SET state = $3, ${step}_verifier_hash = $4, login = COALESCE($5::jsonb, login), consent = COALESCE($6::jsonb, consent),
              error = COALESCE($7::jsonb, error)
        WHERE id = $1 AND state = $2 AND expires_at > now() RETURNING id`,
      [flow.id, `${step}_requested`, state, this.hash(verifier), columns.login ?? null, columns.consent ?? null, columns.error ?? null],
    );
    if (updated.length === 0) throw new OAuthError('conflict', `the ${step} request was already handled`);
    return { redirect_to: withParam(`${this.config.issuer()}/oauth2/auth`, `${step}_verifier`, verifier) };
  }
}

function rejection(body: Record<string, unknown>): { error: string; error_description?: string } {
  const error = optionalString(body, 'error', 128) ?? 'access_denied';
  const description = optionalString(body, 'error_description', 1024);
  const hint = optionalString(body, 'error_hint', 1024);
  if (!/^[a-z0-9_]+$/i.test(error)) throw new OAuthError('invalid_request', 'error must be an OAuth error code (letters, digits and _)');
  const text = [description, hint].filter((s) => s !== undefined && s !== '').join(' ');
  if (!ERROR_TEXT.test(text)) throw new OAuthError('invalid_request', 'error_description and error_hint must be printable ASCII without " or \\');
  return { error, ...(text ? { error_description: text } : {}) };
}

function withParam(base: string, name: string, value: string): string {
  const url = new URL(base);
  url.searchParams.set(name, value);
  return url.toString();
}

