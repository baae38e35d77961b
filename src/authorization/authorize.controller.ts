import { applyDecorators, Controller, Get, Req, Res, UseGuards } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CodeFlowEnabledGuard } from '../common/code-flow-enabled.guard.js';
import { ClientsService } from '../clients/clients.service.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import type { HttpReply, HttpRequest } from '../common/http.js';
import { isSuspended } from '../clients/client-suspension.js';
import { OAuthError } from '../common/oauth-error.js';
import { ConfigService } from '../config/config.service.js';
import { authorizationResponseUrl, queryOf, RedirectableError, validateAuthorizationRequest } from './authorization-request.js';
import { errorPage, redirect } from './html.js';
import { AuthorizationFlowService, type Redirect } from './authorization-flow.service.js';

const CLIENT_ID = /^[\x21-\x7E]{1,255}$/;

const QUERY = [
  ['client_id', true, undefined],
  ['response_type', true, 'code'],
  ['redirect_uri', false, 'Exact match with a registered one; a native client\'s loopback URIs match on any port'],
  ['scope', false, 'Space-delimited, within the client\'s scope'],
  ['state', false, undefined],
  ['nonce', false, undefined],
  ['code_challenge', false, 'PKCE (RFC 7636); required for public clients'],
  ['code_challenge_method', false, 'S256'],
  ['dpop_jkt', false, 'RFC 9449 §10: binds the code to this DPoP key thumbprint; the token request must carry a proof signed by that key'],
  ['prompt', false, 'none, login or consent'],
  ['max_age', false, 'Seconds since authentication after which the user logs in again'],
  ['audience', false, 'Space-delimited access token audience, within the client\'s'],
  ['resource', false, 'RFC 8707 resource indicators: absolute URIs without a fragment, repeatable, each one of the client\'s audience values; offered to the consent app with the audience'],
] as const;

/** A query parameter's schema: repeatable ones are arrays sent as repeated parameters (form style, exploded). */
function querySchema(name: string): Record<string, unknown> {
  if (name === 'max_age') return { type: 'integer', minimum: 0 };
  if (name === 'resource') return { type: 'array', items: { type: 'string', format: 'uri' } };
  return { type: 'string' };
}

@ApiTags('oauth2')
@UseGuards(CodeFlowEnabledGuard)
@Controller('oauth2')
export class AuthorizeController {
  constructor(
    private readonly flows: AuthorizationFlowService,
    private readonly clients: ClientsService,
    private readonly config: ConfigService,
  ) {}

  @Get('auth')
  @ApiOperation({
    summary: 'Authorization endpoint (RFC 6749 §4.1, PKCE): redirects to the login app, then the consent app, then back to the client',
    operationId: 'oAuth2Authorize',
  })
  @applyDecorators(
    ...QUERY.map(([name, required, description]) =>
      ApiQuery({ name, required, description, schema: querySchema(name), ...(name === 'resource' ? { style: 'form', explode: true } : {}) }),
    ),
  )
  @ApiResponse({ status: 302, description: 'To the login app, the consent app, or the client\'s redirect URI (with code or error, and iss)' })
  @ApiResponse({
    status: 400,
    type: ErrorResponseDto,
    description:
      'Unknown client, a client metadata document that cannot be used, or a redirect URI that is not registered (never redirected). ' +
      'With oauth2.untrusted_client_errors: page, also an HTML page for the errors of a dynamically registered or ' +
      'self-described client found before the user took part',
  })
  async authorize(@Req() req: HttpRequest, @Res() res: HttpReply): Promise<void> {
    const issuer = this.config.issuer();
    const query = queryOf(req);
    let next: Redirect;
    try {
      next = await this.step(req, res, query);
    } catch (err) {
      if (!(err instanceof RedirectableError)) throw err;
      if (await this.showsErrorPage(err)) return errorPage(res, err);
      next = {
        location: authorizationResponseUrl(err.redirectUri, issuer, { error: err.code, error_description: err.description, state: err.state }),
      };
    }
    redirect(res, next.location);
  }

  /**
   * RFC 9700 §4.11.2: anyone may register a client and its redirect URIs
   * through DCR, so an error found before the user took part is not redirected
   * to such a client when the operator chose `page`; admin-created clients are
   * the operator's and keep the redirect of RFC 6749 §4.1.2.1.
   */
  private async showsErrorPage(err: RedirectableError): Promise<boolean> {
    if (this.config.get('oauth2.untrusted_client_errors') !== 'page') return false;
    const client = await this.clients.find(err.clientId);
    // A client deleted meanwhile is trusted no more than a dynamic one; nor is one described by its own metadata document.
    return !client || client.createdVia !== 'admin';
  }

  private async step(req: HttpRequest, res: HttpReply, query: URLSearchParams): Promise<Redirect> {
    const loginVerifier = query.get('login_verifier');
    if (loginVerifier) return this.flows.afterLogin(loginVerifier, req, res);
    const consentVerifier = query.get('consent_verifier');
    if (consentVerifier) return this.flows.afterConsent(consentVerifier, req, res);
    const clientId = query.get('client_id');
    if (!clientId) throw new OAuthError('invalid_request', 'client_id is required');
    const client = CLIENT_ID.test(clientId) ? await this.clients.findPresented(clientId) : null;
    if (!client) throw new OAuthError('invalid_client', 'unknown client_id', { status: 400 });
    // Answered here, never redirected: a suspended client's redirect URIs are not to be trusted with the user.
    if (isSuspended(client)) throw new OAuthError('invalid_client', 'the client is suspended', { status: 400 });
    const request = validateAuthorizationRequest(client, query, {
      pkceEnforced: this.config.get('oauth2.pkce.enforced') === true,
      requestUrl: `${this.config.issuer()}${req.url}`,
    });
    return this.flows.start(request, req, res);
  }
}
