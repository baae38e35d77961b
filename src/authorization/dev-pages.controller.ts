import { Controller, Get, Post, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { HttpReply, HttpRequest } from '../common/http.js';
import { OAuthError } from '../common/oauth-error.js';
import { toOAuthError } from '../common/oauth-exception.filter.js';
import { queryParam } from '../common/pagination.js';
import { ConfigService } from '../config/config.service.js';
import { formParams } from '../tokens/form-params.js';
import { queryOf } from './authorization-request.js';
import { escapeHtml, redirect, sendPage } from './html.js';
import { LoginConsentService, RequestAlreadyHandled } from './login-consent.service.js';

const DEV_NOTE = '<p class="note">Development page of Registrar: any name signs in. Set <code>urls.login</code> and <code>urls.consent</code> to use your own app; production requires them.</p>';
const REMEMBER_FOR = 3600;

/**
 * The built-in login and consent pages, served outside production when no
 * login or consent app is configured. They use the same service calls as an
 * operator's app makes over the admin API.
 */
@ApiExcludeController()
@Controller('dev')
export class DevPagesController {
  constructor(
    private readonly flows: LoginConsentService,
    private readonly config: ConfigService,
  ) {}

  private enabled(kind: 'login' | 'consent'): void {
    if (!this.config.developmentPage(kind)) throw new OAuthError('not_found', 'the development pages are not served here');
  }

  /** Errors on these pages are shown to a person, as a page. */
  private async page(res: HttpReply, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (caught) {
      // Reloading an answered page starts the authorization request again; posting an answered form is a conflict.
      if (caught instanceof RequestAlreadyHandled && res.request.method === 'GET') return redirect(res, caught.redirectTo);
      const err = caught instanceof RequestAlreadyHandled ? new OAuthError('conflict', 'the request was already handled') : caught;
      const { error, unexpected } = toOAuthError(err);
      if (unexpected) throw err;
      sendPage(res, 'Request failed', `<h1>This request cannot continue</h1><p>${escapeHtml(error.description ?? error.code)}</p>`, error.status);
    }
  }

  @Get('login')
  async login(@Req() req: HttpRequest, @Res() res: HttpReply): Promise<void> {
    this.enabled('login');
    await this.page(res, async () => {
      const challenge = queryParam(req, 'login_challenge');
      const request = await this.flows.loginRequest(challenge);
      if (request.skip) {
        const { redirect_to } = await this.flows.acceptLogin(challenge, { subject: request.subject });
        return redirect(res, redirect_to);
      }
      const clientName = String(request.client.client_name || request.client.client_id);
      const hint = typeof request.oidc_context.login_hint === 'string' ? request.oidc_context.login_hint : '';
      sendPage(
        res,
        'Sign in',
        `<h1>Sign in to ${escapeHtml(clientName)}</h1>${DEV_NOTE}<form method="post" action="/dev/login">` +
          `<input type="hidden" name="login_challenge" value="${escapeHtml(challenge!)}">` +
          `<label for="subject">User name</label><input type="text" id="subject" name="subject" value="${escapeHtml(hint)}" required autofocus>` +
          `<label><input type="checkbox" name="remember" value="on"> Remember me for an hour</label>` +
          `<button type="submit" name="action" value="accept">Sign in</button><button type="submit" name="action" value="deny" formnovalidate>Deny</button></form>`,
      );
    });
  }

  @Post('login')
  async loginAnswer(@Req() req: HttpRequest, @Res() res: HttpReply): Promise<void> {
    this.enabled('login');
    await this.page(res, async () => {
      const { params } = formParams(req);
      const answer =
        params.action === 'deny'
          ? await this.flows.rejectLogin(params.login_challenge, { error: 'access_denied', error_description: 'The user denied the request' })
          : await this.flows.acceptLogin(params.login_challenge, {
              subject: (params.subject ?? '').trim(),
              remember: params.remember === 'on',
              remember_for: REMEMBER_FOR,
              amr: ['pwd'],
            });
      redirect(res, answer.redirect_to, 303);
    });
  }

  @Get('consent')
  async consent(@Req() req: HttpRequest, @Res() res: HttpReply): Promise<void> {
    this.enabled('consent');
    await this.page(res, async () => {
      const challenge = queryParam(req, 'consent_challenge');
      const request = await this.flows.consentRequest(challenge);
      if (request.skip) {
        const { redirect_to } = await this.flows.acceptConsent(challenge, {
          grant_scope: request.requested_scope,
          grant_access_token_audience: request.requested_access_token_audience,
        });
        return redirect(res, redirect_to);
      }
      const clientName = String(request.client.client_name || request.client.client_id);
      const scopes = request.requested_scope
        .map((s) => `<li><label><input type="checkbox" name="scope" value="${escapeHtml(s)}" checked> <code>${escapeHtml(s)}</code></label></li>`)
        .join('');
      sendPage(
        res,
        'Allow access',
        `<h1>${escapeHtml(clientName)} wants access</h1><p>Signed in as <strong>${escapeHtml(request.subject)}</strong>.</p>${DEV_NOTE}` +
          `<form method="post" action="/dev/consent"><input type="hidden" name="consent_challenge" value="${escapeHtml(challenge!)}">` +
          (scopes ? `<p>Requested scopes:</p><ul>${scopes}</ul>` : '<p>No scopes were requested.</p>') +
          `<label><input type="checkbox" name="remember" value="on"> Remember this decision</label>` +
          `<button type="submit" name="action" value="accept">Allow</button><button type="submit" name="action" value="deny" formnovalidate>Deny</button></form>`,
      );
    });
  }

  @Post('consent')
  async consentAnswer(@Req() req: HttpRequest, @Res() res: HttpReply): Promise<void> {
    this.enabled('consent');
    await this.page(res, async () => {
      const { params, lists } = formParams(req, ['scope']);
      const challenge = params.consent_challenge;
      if (params.action === 'deny') {
        const { redirect_to } = await this.flows.rejectConsent(challenge, { error: 'access_denied', error_description: 'The user denied the request' });
        return redirect(res, redirect_to, 303);
      }
      const request = await this.flows.consentRequest(challenge);
      const { redirect_to } = await this.flows.acceptConsent(challenge, {
        grant_scope: lists.scope ?? [],
        grant_access_token_audience: request.requested_access_token_audience,
        remember: params.remember === 'on',
        session: { id_token: { preferred_username: request.subject } },
      });
      redirect(res, redirect_to, 303);
    });
  }

  /** A redirect URI for trying the flow by hand: shows the authorization response and the token request to make next. */
  @Get('callback')
  callback(@Req() req: HttpRequest, @Res() res: HttpReply): void {
    this.enabled('login');
    const query = queryOf(req);
    const rows = [...query]
      .map(([name, value]) => `<li><code>${escapeHtml(name)}</code> = <code>${escapeHtml(value)}</code></li>`)
      .join('');
    const code = query.get('code');
    const next = code
      ? `<p>Exchange the code (with the PKCE verifier of the request):</p><pre>curl -s ${escapeHtml(this.config.issuer())}/oauth2/token \\\n` +
        `  -d grant_type=authorization_code -d client_id=CLIENT_ID \\\n  -d code=${escapeHtml(code)} \\\n` +
        `  -d redirect_uri=${escapeHtml(`${this.config.issuer()}/dev/callback`)} -d code_verifier=VERIFIER</pre>`
      : '';
    sendPage(res, 'Authorization response', `<h1>Authorization response</h1><ul>${rows}</ul>${next}${DEV_NOTE}`);
  }
}
