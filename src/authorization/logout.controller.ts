import { Controller, Get, Post, Req, Res, UseGuards } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CodeFlowEnabledGuard } from '../common/code-flow-enabled.guard.js';
import { ClientsService } from '../clients/clients.service.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import type { HttpReply, HttpRequest } from '../common/http.js';
import { OAuthError } from '../common/oauth-error.js';
import { ConfigService } from '../config/config.service.js';
import { formParams } from '../tokens/form-params.js';
import { IdTokensService } from '../tokens/id-tokens.service.js';
import { queryOf, singleParams } from './authorization-request.js';
import { escapeHtml, redirect, sendPage } from './html.js';
import { LoginConsentService } from './login-consent.service.js';

const FORWARDED = ['id_token_hint', 'client_id', 'post_logout_redirect_uri', 'state'] as const;

/**
 * OpenID Connect RP-Initiated Logout 1.0. With a valid id_token_hint the
 * session ends at once; without one the user confirms first, through a form
 * whose POST carries the SameSite=Lax session cookie only from this site.
 */
@ApiTags('oidc')
@ApiResponse({ status: 400, type: ErrorResponseDto, description: 'Bad id_token_hint, or a post_logout_redirect_uri the client did not register' })
@UseGuards(CodeFlowEnabledGuard)
@Controller('oauth2/sessions')
export class LogoutController {
  constructor(
    private readonly flows: LoginConsentService,
    private readonly idTokens: IdTokensService,
    private readonly clients: ClientsService,
    private readonly config: ConfigService,
  ) {}

  @Get('logout')
  @ApiOperation({ summary: 'RP-initiated logout: ends the browser\'s login session', operationId: 'revokeOidcSession' })
  @ApiResponse({ status: 302, description: 'To the post_logout_redirect_uri (with state), or to urls.post_logout_redirect' })
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
    let target: string | undefined;
    if (params.post_logout_redirect_uri) {
      const client = clientId ? await this.clients.find(clientId) : null;
      if (!client) throw new OAuthError('invalid_request', 'post_logout_redirect_uri needs a valid id_token_hint or client_id');
      const registered = (client.fields.post_logout_redirect_uris as string[] | undefined) ?? [];
      if (!registered.includes(params.post_logout_redirect_uri)) {
        throw new OAuthError('invalid_request', 'post_logout_redirect_uri is not registered for the client');
      }
      const url = new URL(params.post_logout_redirect_uri);
      if (params.state !== undefined) url.searchParams.set('state', params.state);
      target = url.toString();
    }
    if (!hint && !confirmed) return this.confirmation(params, res);

    const current = this.flows.sessionIdFromCookie(req);
    await this.flows.revokeLoginSessions({ ids: [current, hint?.sessionId].filter((id): id is string => id !== undefined) });
    this.flows.clearSessionCookie(res);
    const fallback = this.config.get('urls.post_logout_redirect');
    if (target ?? fallback) return redirect(res, (target ?? fallback)!);
    sendPage(res, 'Signed out', '<h1>You are signed out</h1><p>You can close this window.</p>');
  }

  private confirmation(params: Record<string, string>, res: HttpReply): void {
    const hidden = FORWARDED.filter((name) => params[name] !== undefined)
      .map((name) => `<input type="hidden" name="${name}" value="${escapeHtml(params[name])}">`)
      .join('');
    sendPage(
      res,
      'Sign out',
      `<h1>Sign out?</h1><form method="post" action="/oauth2/sessions/logout">${hidden}` +
        `<input type="hidden" name="confirm" value="yes"><button type="submit">Sign out</button></form>`,
    );
  }
}
