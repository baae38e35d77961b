// The browser's side of the flow: the signed login session cookie and the
// per-flow cookie that binds an authorization request to the browser that
// started it. The only code of the flow that reads or writes cookies.
import { Injectable } from '@nestjs/common';
import { readCookies, setCookie, signCookieValue, verifyCookieValue } from '../common/cookies.js';
import type { HttpReply, HttpRequest } from '../common/http.js';
import { randomToken } from '../common/secrets.js';
import { ConfigService } from '../config/config.service.js';
import type { LoginResult } from './flows.repository.js';
import { LoginSessionsRepository, type LoginSession } from './login-sessions.repository.js';

export const SESSION_COOKIE = 'registrar_session';
const FLOW_COOKIE_PREFIX = 'registrar_csrf_';
/** The flow cookie is only sent back to the authorization endpoint, where the verifiers arrive. */
const FLOW_COOKIE_PATH = '/oauth2/auth';
/** A login remembered "for the browser session" still ends on the server after this long (the browser may never close). */
const BROWSER_SESSION_CAP_S = 30 * 86400;

@Injectable()
export class BrowserSessions {
  constructor(
    private readonly config: ConfigService,
    private readonly sessions: LoginSessionsRepository,
  ) {}

  private get secureCookies(): boolean {
    return this.config.issuer().startsWith('https:');
  }

  /** The session id the cookie names, if the server signed it (the session may have ended since). */
  sessionIdFromCookie(req: HttpRequest): string | undefined {
    return verifyCookieValue(readCookies(req).get(SESSION_COOKIE), this.config.systemSecrets());
  }

  /** The browser's live login session: its signed cookie names a session that is neither revoked nor expired. */
  async currentSession(req: HttpRequest): Promise<LoginSession | undefined> {
    const id = this.sessionIdFromCookie(req);
    return id ? this.sessions.findLive(id) : undefined;
  }

  /** Creates the remembered login session and its signed, HttpOnly, SameSite=Lax cookie; returns the session id. */
  async remember(login: LoginResult, res: HttpReply): Promise<string> {
    const id = randomToken(32);
    await this.sessions.insert({
      id,
      subject: login.subject,
      authenticatedAt: login.auth_time,
      acr: login.acr,
      amr: login.amr,
      ttlSeconds: login.remember_for || BROWSER_SESSION_CAP_S,
    });
    setCookie(res, SESSION_COOKIE, signCookieValue(id, this.config.systemSecrets()), {
      path: '/',
      maxAge: login.remember_for > 0 ? login.remember_for : undefined,
      secure: this.secureCookies,
    });
    return id;
  }

  /** Ends the session the browser is signed in with, and forgets its cookie. */
  async end(session: LoginSession, res: HttpReply): Promise<void> {
    await this.sessions.revoke({ ids: [session.id] });
    this.clearSessionCookie(res);
  }

  clearSessionCookie(res: HttpReply): void {
    setCookie(res, SESSION_COOKIE, '', { path: '/', maxAge: 0, secure: this.secureCookies });
  }

  /** Binds a new flow to this browser: the verifiers only continue it where this cookie is sent. */
  bindFlow(res: HttpReply, flowId: string, csrf: string): void {
    setCookie(res, flowCookieName(flowId), csrf, {
      path: FLOW_COOKIE_PATH,
      maxAge: this.config.get('ttl.login_consent_request'),
      secure: this.secureCookies,
    });
  }

  /** The value the browser holds for the flow's cookie, if any. */
  flowBinding(req: HttpRequest, flowId: string): string | undefined {
    return readCookies(req).get(flowCookieName(flowId));
  }

  releaseFlow(res: HttpReply, flowId: string): void {
    setCookie(res, flowCookieName(flowId), '', { path: FLOW_COOKIE_PATH, maxAge: 0, secure: this.secureCookies });
  }
}

function flowCookieName(flowId: string): string {
  return `${FLOW_COOKIE_PREFIX}${flowId.slice(0, 8)}`;
}
