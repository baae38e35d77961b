import { Controller, Get, Post, Req, Res, UseGuards } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CodeFlowEnabledGuard } from '../common/code-flow-enabled.guard.js';
import type { ClientEntity } from '../clients/client.entity.js';
import { ClientsService } from '../clients/clients.service.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import type { HttpReply, HttpRequest } from '../common/http.js';
import { OAuthError } from '../common/oauth-error.js';
import { keyedHash, keyedHashes, matchesAny } from '../common/secrets.js';
import { ConfigService } from '../config/config.service.js';
import { formParams } from '../tokens/form-params.js';
import { IdTokensService } from '../tokens/id-tokens.service.js';
import { SubjectIdentifiersService } from '../tokens/subject-identifiers.service.js';
import { queryOf, singleParams } from './authorization-request.js';
import { escapeHtml, redirect, sendPage } from './html.js';
import { BrowserSessions } from './browser-sessions.js';
import type { LoginSession } from './login-sessions.repository.js';

const FORWARDED = ['id_token_hint', 'client_id', 'post_logout_redirect_uri', 'state'] as const;

/**
 * OpenID Connect RP-Initiated Logout 1.0. Only an id_token_hint that names the
 * browser's own login session (its `sid`, or its `sub` when the token has no
 * sid) earns the client's post_logout_redirect_uri; the session ends at once
 * when the client also has `skip_logout_consent`, and after the user confirms
 * otherwise (§2: the OP SHOULD ask, and MUST when the hint is missing or
 * belongs to another session). A logout the user confirms without such a hint
 * ends their session and stays with the server. The confirmation form carries
 * a token bound to the session, so another site cannot post it.
 */
@ApiTags('oidc')
@ApiResponse({ status: 400, type: ErrorResponseDto, description: 'Bad id_token_hint, or a post_logout_redirect_uri the client did not register' })
@UseGuards(CodeFlowEnabledGuard)
@Controller('oauth2/sessions')
export class LogoutController {
  constructor(
    private readonly browser: BrowserSessions,
    private readonly idTokens: IdTokensService,
    private readonly clients: ClientsService,
    private readonly subjects: SubjectIdentifiersService,
    private readonly config: ConfigService,
  ) {}

  @Get('logout')
  @ApiOperation({ summary: 'RP-initiated logout: ends the browser\'s login session', operationId: 'revokeOidcSession' })
  @ApiResponse({
    status: 302,
    description: 'To the post_logout_redirect_uri (with state) when id_token_hint names this browser\'s session, or to urls.post_logout_redirect',
  })
  async get(@Req() req: HttpRequest, @Res() res: HttpReply): Promise<void> {
    const { params, repeated } = singleParams(queryOf(req));
    if (repeated.length > 0) throw new OAuthError('invalid_request', `${repeated[0]} must not be repeated`);
    await this.logout(Object.fromEntries(params), false, req, res);
  }

  @Post('logout')
  @ApiOperation({ summary: 'RP-initiated logout (form post)', operationId: 'revokeOidcSessionByPost' })
  async post(@Req() req: HttpRequest, @Res() res: HttpReply): Promise<void> {
    const { params } = formParams(req);
    await this.logout(params, params.confirm === 'yes', req, res);
  }

  private async logout(params: Record<string, string>, confirmed: boolean, req: HttpRequest, res: HttpReply): Promise<void> {
    const hint = params.id_token_hint ? await this.idTokens.verifyHint(params.id_token_hint) : undefined;
    if (params.id_token_hint && !hint) throw new OAuthError('invalid_request', 'id_token_hint is not an ID token issued by this server');
    if (hint && params.client_id && params.client_id !== hint.clientId) {
      throw new OAuthError('invalid_request', 'client_id differs from the audience of id_token_hint');
    }
    const clientId = hint?.clientId ?? params.client_id;
    const client = clientId && (hint || params.post_logout_redirect_uri) ? await this.clients.find(clientId) : null;
    let target: string | undefined;
    if (params.post_logout_redirect_uri) {
      if (!client) throw new OAuthError('invalid_request', 'post_logout_redirect_uri needs a valid id_token_hint or client_id');
      const registered = (client.fields.post_logout_redirect_uris as string[] | undefined) ?? [];
      if (!registered.includes(params.post_logout_redirect_uri)) {
        throw new OAuthError('invalid_request', 'post_logout_redirect_uri is not registered for the client');
      }
      const url = new URL(params.post_logout_redirect_uri);
      if (params.state !== undefined) url.searchParams.set('state', params.state);
      target = url.toString();
    }

    const session = await this.browser.currentSession(req);
    if (!session) {
      // Nothing to end here, and no session the hint could name: the client's URI is not earned.
      if (this.browser.sessionIdFromCookie(req) !== undefined) this.browser.clearSessionCookie(res);
      return this.signedOut(res);
    }
    const ownSession = hint !== undefined && (hint.sessionId !== undefined ? hint.sessionId === session.id : hint.subject === (await this.subjectFor(client, session)));
    const atOnce = ownSession && client?.fields.skip_logout_consent === true;
    if (!atOnce && !(confirmed && this.confirmationValid(params.csrf, session))) return this.confirmation(params, session, res);

    // Only the browser's own session ends: a hint never ends another one.
    await this.browser.end(session, res);
    this.signedOut(res, ownSession ? target : undefined);
  }

  /** The session's subject as the client's ID tokens carry it (pairwise clients get their own, OIDC Core §8.1). */
  private async subjectFor(client: ClientEntity | null | '' | undefined, session: LoginSession): Promise<string> {
    return client ? this.subjects.forClient(client, session.subject) : session.subject;
  }

  private signedOut(res: HttpReply, target?: string): void {
    const location = target ?? this.config.get('urls.post_logout_redirect');
    if (location) return redirect(res, location);
    sendPage(res, 'Signed out', '<h1>You are signed out</h1><p>You can close this window.</p>');
  }

  /** The confirmation form's token: keyed with the system secret and bound to the session it would end. */
  private confirmationToken(session: LoginSession): string {
    return keyedHash(this.config.systemSecrets()[0], `logout:${session.id}`);
  }

  private confirmationValid(token: string | undefined, session: LoginSession): boolean {
    return token !== undefined && matchesAny(token, keyedHashes(this.config.systemSecrets(), `logout:${session.id}`));
  }

  private confirmation(params: Record<string, string>, session: LoginSession, res: HttpReply): void {
    const hidden = FORWARDED.filter((name) => params[name] !== undefined)
      .map((name) => `<input type="hidden" name="${name}" value="${escapeHtml(params[name])}">`)
      .join('');
    sendPage(
      res,
      'Sign out',
      `<h1>Sign out?</h1><p>You are signed in as <strong>${escapeHtml(session.subject)}</strong>.</p>` +
        `<form method="post" action="/oauth2/sessions/logout">${hidden}` +
        `<input type="hidden" name="csrf" value="${escapeHtml(this.confirmationToken(session))}">` +
        `<input type="hidden" name="confirm" value="yes"><button type="submit">Sign out</button></form>`,
    );
  }
}
