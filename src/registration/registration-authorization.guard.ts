// The authorization step of POST /oauth2/register (RFC 7591 §3): an initial
// access token as InitialAccessTokenGuard checks it, or, while
// oidc.dynamic_client_registration.access_token.scope is set, an access token
// with that scope (README "Registering with an access token").
import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { bearerToken, dpopToken, invalidBearer } from '../common/bearer.js';
import { OAuthError } from '../common/oauth-error.js';
import { InitialAccessTokenGuard, type RequestWithIat } from '../policy/initial-access-token.guard.js';
import { AccessTokenRegistration, type TokenRegistrar } from './access-token-registration.js';

export type RequestWithRegistrar = RequestWithIat & { tokenRegistrar?: TokenRegistrar };

/** One answer for every token that authorises nothing, whichever kind it was tried as; the log says why. */
export const INVALID_REGISTRATION_TOKEN = 'the token is not a usable initial access token or an access token that authorises registration';

@Injectable()
export class RegistrationAuthorizationGuard implements CanActivate {
  constructor(
    private readonly iatGuard: InitialAccessTokenGuard,
    private readonly byAccessToken: AccessTokenRegistration,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (this.byAccessToken.scope() === undefined) return this.iatGuard.canActivate(context);
    const req = context.switchToHttp().getRequest<RequestWithRegistrar>();
    // RFC 9449 §7.1: only an access token is presented with the DPoP scheme.
    const dpop = dpopToken(req);
    if (dpop) return this.accessToken(req, dpop, 'DPoP');
    const token = bearerToken(req);
    // No token, or a malformed header: the IAT gate answers as it always has.
    if (!token) return this.iatGuard.canActivate(context);
    // First as an IAT, then as an access token; either failure ends in the same 401.
    try {
      return await this.iatGuard.canActivate(context);
    } catch (err) {
      if (!(err instanceof OAuthError) || err.code !== 'invalid_token') throw err;
    }
    return this.accessToken(req, token, 'Bearer');
  }

  private async accessToken(req: RequestWithRegistrar, token: string, scheme: 'Bearer' | 'DPoP'): Promise<boolean> {
    const registrar = await this.byAccessToken.authenticate(req, token, scheme);
    if (!registrar) throw invalidBearer(true, INVALID_REGISTRATION_TOKEN);
    req.tokenRegistrar = registrar;
    return true;
  }
}
