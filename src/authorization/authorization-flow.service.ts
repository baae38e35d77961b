// The browser's steps of the authorization flow at /oauth2/auth (RFC 6749
// §4.1.1): a validated request starts a flow and goes to the login app; the
// login_verifier leads on to the consent app; the consent_verifier ends in the
// code, or the app's error, on the client's redirect URI. The login and consent
// apps answer in between through the admin API (login-consent.service.ts).
import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { ClientsService } from '../clients/clients.service.js';
import type { HttpReply, HttpRequest } from '../common/http.js';
import { OAuthError } from '../common/oauth-error.js';
import { randomToken, safeEqual } from '../common/secrets.js';
import { ConfigService } from '../config/config.service.js';
import { GrantsService } from '../tokens/grants.service.js';
import { authorizationResponseUrl, RedirectableError, type AuthorizationRequest } from './authorization-request.js';
import { BrowserSessions } from './browser-sessions.js';
import { ConsentSessionsRepository } from './consent-sessions.repository.js';
import { flowHash, flowHashes, withParam } from './flow-secrets.js';
import { FlowsRepository, type FlowRow, type FlowStep } from './flows.repository.js';
import { LoginSessionsRepository } from './login-sessions.repository.js';

/** A browser redirect the authorization endpoint answers with. */
export interface Redirect {
  location: string;
}

@Injectable()
export class AuthorizationFlowService {
  constructor(
    private readonly config: ConfigService,
    private readonly clients: ClientsService,
    private readonly grants: GrantsService,
    private readonly browser: BrowserSessions,
    private readonly flows: FlowsRepository,
    private readonly loginSessions: LoginSessionsRepository,
    private readonly consentSessions: ConsentSessionsRepository,
  ) {}

  private now(): number {
    return Math.floor(Date.now() / 1000);
  }

  /** A validated request: skip decisions from the session cookie, a new flow, and the redirect to the login app. */
  async start(request: AuthorizationRequest, req: HttpRequest, res: HttpReply): Promise<Redirect> {
    const session = await this.browser.currentSession(req);
    const forceLogin = request.prompt.includes('login') || request.prompt.includes('select_account');
    const tooOld = session !== undefined && request.max_age !== undefined && this.now() - session.authenticated_at > request.max_age;
    const skip = session !== undefined && !forceLogin && !tooOld;
    if (request.prompt.includes('none') && !skip) {
      throw new RedirectableError('login_required', 'prompt=none, and there is no usable login session', request.redirect_uri, request.state, request.client_id);
    }
    const id = randomUUID();
    const challenge = randomToken(32);
    const csrf = randomToken(32);
    await this.flows.insert({
      id,
      request,
      csrfHash: flowHash(this.config, csrf),
      loginChallengeHash: flowHash(this.config, challenge),
      loginSessionId: session?.id ?? null,
      loginSkip: skip,
      subject: skip ? session.subject : null,
      ttlSeconds: this.config.get('ttl.login_consent_request'),
    });
    this.browser.bindFlow(res, id, csrf);
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
      authTime = (await this.loginSessions.authenticatedAt(sessionId)) ?? authTime;
    } else if (login.remember) {
      sessionId = await this.browser.remember(login, res);
    } else {
      sessionId = null;
    }
    const client = await this.clients.find(flow.client_id);
    if (!client) throw new OAuthError('invalid_request', 'the client of this request no longer exists', { status: 400 });
    const skipConsent = client.fields.skip_consent === true || (await this.rememberedConsent(flow, login.subject)) !== undefined;
    const consentSkip = skipConsent && !flow.request.prompt.includes('consent');
    if (flow.request.prompt.includes('none') && !consentSkip) {
      await this.flows.setState(flow.id, 'done');
      this.browser.releaseFlow(res, flow.id);
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
    await this.flows.requestConsent(flow.id, {
      consentChallengeHash: flowHash(this.config, challenge),
      consentSkip,
      loginSessionId: sessionId,
      login: { ...login, auth_time: authTime },
    });
    return { location: withParam(this.config.consentUrl(), 'consent_challenge', challenge) };
  }

  /** The browser is back from the consent app (consent_verifier): the code, or the error, to the client. */
  async afterConsent(verifier: string, req: HttpRequest, res: HttpReply): Promise<Redirect> {
    const flow = await this.takeVerifier('consent', verifier, req);
    if (flow.state === 'consent_rejected') return this.finishWithError(flow, res);
    const login = flow.login!;
    const consent = flow.consent!;
    if (consent.remember && !flow.consent_skip) {
      await this.consentSessions.insert({
        subject: login.subject,
        clientId: flow.client_id,
        scope: consent.grant_scope,
        audience: consent.grant_access_token_audience,
        session: consent.session,
        rememberFor: consent.remember_for,
      });
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
      dpopJkt: flow.request.dpop_jkt,
    });
    this.browser.releaseFlow(res, flow.id);
    return {
      location: authorizationResponseUrl(flow.request.redirect_uri, this.config.issuer(), { code, state: flow.request.state }),
    };
  }

  private finishWithError(flow: FlowRow, res: HttpReply): Redirect {
    this.browser.releaseFlow(res, flow.id);
    const { error, error_description } = flow.error!;
    return {
      location: authorizationResponseUrl(flow.request.redirect_uri, this.config.issuer(), {
        error,
        error_description,
        state: flow.request.state,
      }),
    };
  }

  /** Spends a verifier: it must be live, answered, unspent, and arrive in the browser that started the flow. */
  private async takeVerifier(step: FlowStep, verifier: string, req: HttpRequest): Promise<FlowRow> {
    const flow = await this.flows.takeVerifier(step, flowHashes(this.config, verifier));
    if (!flow) throw new OAuthError('invalid_request', `the ${step}_verifier is unknown, expired or was already used`);
    const csrf = this.browser.flowBinding(req, flow.id);
    if (!csrf || !safeEqual(flowHash(this.config, csrf), flow.csrf_hash)) {
      await this.flows.setState(flow.id, 'done');
      throw new OAuthError('invalid_request', 'this authorization request was started in another browser (the flow cookie is missing or wrong)');
    }
    return flow;
  }

  /** A live remembered consent of the subject for the client that covers every scope and audience requested. */
  private async rememberedConsent(flow: FlowRow, subject: string): Promise<string | undefined> {
    const remembered = await this.consentSessions.findLive(subject, flow.client_id);
    const covers = (granted: string[], wanted: string[]) => wanted.every((w) => granted.includes(w));
    return remembered.find((r) => covers(r.granted_scope, flow.request.scope) && covers(r.granted_audience, flow.request.audience))?.id;
  }
}
