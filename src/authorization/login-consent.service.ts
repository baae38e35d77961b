// The login and consent app's side of the authorization flow, over the admin
// API (Hydra's model and names): read a request by its challenge, answer it
// once, and end login sessions or remembered consent. Each challenge is good
// for one answer before it expires; the answer's verifier continues the flow
// in the browser (authorization-flow.service.ts).
import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import { ClientsService } from '../clients/clients.service.js';
import { OAuthError } from '../common/oauth-error.js';
import { randomToken } from '../common/secrets.js';
import { ConfigService } from '../config/config.service.js';
import { Database } from '../database/database.js';
import { GrantsService } from '../tokens/grants.service.js';
import { ConsentSessionsRepository } from './consent-sessions.repository.js';
import { flowHash, flowHashes, withParam } from './flow-secrets.js';
import { FlowsRepository, type ConsentResult, type FlowError, type FlowRow, type FlowState, type FlowStep, type LoginResult } from './flows.repository.js';
import {
  AcceptConsentRequestDto,
  AcceptLoginRequestDto,
  checkedAnswer,
  RejectRequestDto,
  type ConsentRequestDto,
  type LoginRequestDto,
} from './login-consent.dto.js';
import { LoginSessionsRepository } from './login-sessions.repository.js';

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

@Injectable()
export class LoginConsentService {
  constructor(
    private readonly config: ConfigService,
    private readonly clients: ClientsService,
    private readonly grants: GrantsService,
    private readonly flows: FlowsRepository,
    private readonly loginSessions: LoginSessionsRepository,
    private readonly consentSessions: ConsentSessionsRepository,
    private readonly database: Database,
    private readonly audit: AuditService,
  ) {}

  private now(): number {
    return Math.floor(Date.now() / 1000);
  }

  // ---- sessions ----

  /** The admin API: ends login sessions by id or by subject. */
  revokeLoginSessions(by: { ids?: string[]; subject?: string }): Promise<number> {
    return this.loginSessions.revoke(by);
  }

  /** Revokes remembered consent and every token issued under it, for one client or all. */
  async revokeConsent(subject: string, clientId?: string): Promise<void> {
    await this.database.transaction(async () => {
      await this.consentSessions.revoke(subject, clientId);
      const grants = await this.grants.revokeGrantsOf(subject, clientId);
      if (grants > 0) await this.audit.record({ type: 'token.revoked', clientId: clientId ?? null, details: { reason: 'consent_revoked', subject, grants } });
    });
  }

  // ---- the login and consent app's side: the admin API ----

  private async flowByChallenge(step: FlowStep, challenge: string | undefined): Promise<FlowRow> {
    if (!challenge) throw new OAuthError('invalid_request', `${step}_challenge is required`);
    const flow = await this.flows.findByChallenge(step, flowHashes(this.config, challenge));
    if (!flow || !flow.live) throw new OAuthError('not_found', `the ${step} request is unknown or has expired`);
    return flow;
  }

  private async view(flow: FlowRow, challenge: string): Promise<LoginRequestDto> {
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

  async loginRequest(challenge: string | undefined): Promise<LoginRequestDto> {
    const flow = await this.flowByChallenge('login', challenge);
    if (flow.state !== 'login_requested') throw new RequestAlreadyHandled(flow.request.request_url);
    return this.view(flow, challenge!);
  }

  async consentRequest(challenge: string | undefined): Promise<ConsentRequestDto> {
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
    const answer = checkedAnswer(AcceptLoginRequestDto, body);
    if (flow.login_skip && answer.subject !== flow.subject) {
      throw new OAuthError('invalid_request', 'the subject differs from the one of the remembered login session (skip was true)');
    }
    const login: LoginResult = {
      subject: answer.subject,
      remember: answer.remember ?? false,
      remember_for: answer.remember_for ?? 0,
      acr: answer.acr ?? '',
      amr: distinct(answer.amr),
      context: answer.context ?? {},
      auth_time: this.now(),
    };
    return this.answer('login', flow, { state: 'login_accepted', login });
  }

  async rejectLogin(challenge: string | undefined, body: Record<string, unknown>): Promise<{ redirect_to: string }> {
    const flow = await this.flowByChallenge('login', challenge);
    return this.answer('login', flow, { state: 'login_rejected', error: rejection(body) });
  }

  async acceptConsent(challenge: string | undefined, body: Record<string, unknown>): Promise<{ redirect_to: string }> {
    const flow = await this.flowByChallenge('consent', challenge);
    const answer = checkedAnswer(AcceptConsentRequestDto, body);
    const scope = distinct(answer.grant_scope);
    const notRequested = scope.filter((s) => !flow.request.scope.includes(s));
    if (notRequested.length > 0) throw new OAuthError('invalid_request', `grant_scope names scopes that were not requested: ${notRequested.join(' ')}`);
    const audience = distinct(answer.grant_access_token_audience);
    const client = await this.clients.find(flow.client_id);
    const allowedAudience = (client?.fields.audience as string[] | undefined) ?? [];
    const outside = audience.filter((a) => !allowedAudience.includes(a));
    if (outside.length > 0) throw new OAuthError('invalid_request', `grant_access_token_audience is outside the client's audience: ${outside.join(' ')}`);
    const consent: ConsentResult = {
      grant_scope: scope,
      grant_access_token_audience: audience,
      remember: answer.remember ?? false,
      remember_for: answer.remember_for ?? 0,
      session: { id_token: answer.session?.id_token ?? {}, access_token: answer.session?.access_token ?? {} },
    };
    return this.answer('consent', flow, { state: 'consent_accepted', consent });
  }

  async rejectConsent(challenge: string | undefined, body: Record<string, unknown>): Promise<{ redirect_to: string }> {
    const flow = await this.flowByChallenge('consent', challenge);
    return this.answer('consent', flow, { state: 'consent_rejected', error: rejection(body) });
  }

  /** Records the answer once: a second accept or reject of the same challenge finds the state moved on. */
  private async answer(
    step: FlowStep,
    flow: FlowRow,
    outcome: { state: FlowState; login?: LoginResult; consent?: ConsentResult; error?: FlowError },
  ): Promise<{ redirect_to: string }> {
    const verifier = randomToken(32);
    const recorded = await this.flows.recordAnswer(step, flow.id, { ...outcome, verifierHash: flowHash(this.config, verifier) });
    if (!recorded) throw new OAuthError('conflict', `the ${step} request was already handled`);
    return { redirect_to: withParam(`${this.config.issuer()}/oauth2/auth`, `${step}_verifier`, verifier) };
  }
}

/** The error for the client: access_denied unless the app named another; the hint is appended to the description. */
function rejection(body: Record<string, unknown>): FlowError {
  const answer = checkedAnswer(RejectRequestDto, body);
  // Absent, null and empty are alike.
  const text = [answer.error_description, answer.error_hint].filter((s) => typeof s === 'string' && s !== '').join(' ');
  return { error: answer.error ?? 'access_denied', ...(text ? { error_description: text } : {}) };
}

function distinct(values: string[] | undefined): string[] {
  return [...new Set(values ?? [])];
}
