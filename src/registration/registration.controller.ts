import { Body, Controller, Delete, Get, HttpCode, Post, Put, Req, Res, UseGuards } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiConsumes,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { RegistrationRefusals } from '../audit/registration-refusals.js';
import { ApiErrorResponse, ApiFetchesBusyResponse, RETRY_AFTER_HEADER, type ErrorExamples } from '../common/api-responses.js';
import { pathParam, type HttpReply, type HttpRequest } from '../common/http.js';
import { OAuthError } from '../common/oauth-error.js';
import { DcrEnabledGuard } from './dcr-enabled.guard.js';
import { RegistrationRateLimitGuard } from './rate-limiter.js';
import { INVALID_REGISTRATION_TOKEN, RegistrationAuthorizationGuard, type RequestWithRegistrar } from './registration-authorization.guard.js';
import { RegistrationAccessTokenGuard, type RequestWithClient } from './registration-access-token.guard.js';
import { formParams } from '../tokens/form-params.js';
import { RECOVERY_PATH, RegistrationAccessTokenRecoveryService } from './registration-access-token-recovery.service.js';
import { RegistrationBodyPipe } from './registration-body.pipe.js';
import {
  ClientRegistrationRequest,
  ClientRegistrationResponse,
  ClientUpdateRequest,
  RegistrationAccessTokenRecoveryRequest,
} from './registration.dto.js';
import { RegistrationService } from './registration.service.js';

export const IAT_SECURITY = 'initial-access-token';
export const RAT_SECURITY = 'registration-access-token';
/** An access token with oidc.dynamic_client_registration.access_token.scope (README "Registering with an access token"). */
export const REGISTRATION_SCOPE_SECURITY = 'registration-scoped-access-token';

const DCR_DISABLED: ErrorExamples = { disabled: ['not_found', 'dynamic client registration is not enabled on this server'] };
const INVALID_METADATA: ErrorExamples = {
  invalid_client_metadata: ['invalid_client_metadata', 'grant_types must be an array'],
  invalid_redirect_uri: ['invalid_redirect_uri', 'redirect_uris: "app/callback" is not an absolute URI'],
};
const INVALID_RAT: ErrorExamples = { invalid_token: ['invalid_token', 'the registration access token is not valid for this client'] };
/** The self-service rotation takes nothing from the registrant: an empty body, `{}` or none. */
function assertNoBody(body: unknown): void {
  if (body === undefined || body === null || body === '') return;
  if (typeof body === 'object' && !Array.isArray(body)) {
    const names = Object.keys(body);
    if (names.length === 0) return;
    throw new OAuthError('invalid_request', `this request takes no body; found ${names.join(', ')}`);
  }
  throw new OAuthError('invalid_request', 'this request takes no body');
}

const CREATE_BODY = new RegistrationBodyPipe('create');

const CLIENT_ID_PARAM = { name: 'client_id', description: 'The client_id issued at registration', schema: { type: 'string' } } as const;

@ApiTags('dynamic client registration')
@ApiErrorResponse(404, 'Dynamic client registration is disabled', DCR_DISABLED)
@UseGuards(DcrEnabledGuard)
@Controller('oauth2/register')
export class RegistrationController {
  constructor(
    private readonly registration: RegistrationService,
    private readonly recovery: RegistrationAccessTokenRecoveryService,
    private readonly refusals: RegistrationRefusals,
  ) {}

  @Post()
  @HttpCode(201)
  @UseGuards(RegistrationRateLimitGuard, RegistrationAuthorizationGuard)
  @ApiOperation({ summary: 'Register a client (RFC 7591)', operationId: 'createOidcDynamicClient' })
  @ApiErrorResponse(
    429,
    'Too many registrations from this address; see Retry-After',
    { too_many_requests: ['too_many_requests', 'more than 10 registrations from this address; retry in 42 s'] },
    RETRY_AFTER_HEADER,
  )
  @ApiFetchesBusyResponse()
  // Either scheme (OpenAPI lists alternatives in order; decorators apply bottom-up).
  @ApiBearerAuth(REGISTRATION_SCOPE_SECURITY)
  @ApiBearerAuth(IAT_SECURITY)
  @ApiBody({
    type: ClientRegistrationRequest,
    // What Swagger UI's "Try it out" sends: a request the default configuration accepts as it is.
    examples: {
      machine: {
        summary: 'A machine client (client_credentials, client_secret_basic)',
        value: { client_name: 'Billing integration', grant_types: ['client_credentials'], scope: 'invoices.read invoices.write' },
      },
      web: {
        summary: 'A web application (authorization code with PKCE)',
        value: {
          client_name: 'Billing portal',
          redirect_uris: ['https://app.example.com/callback'],
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          scope: 'openid offline_access',
        },
      },
    },
  })
  @ApiCreatedResponse({
    type: ClientRegistrationResponse,
    description:
      'client_secret and registration_access_token appear only here. Under a policy with a reregistration rule, a registration that matches a client registered earlier returns that client (the same client_id and client_id_issued_at) with a new secret and registration access token, also with 201',
  })
  @ApiErrorResponse(400, 'invalid_client_metadata or invalid_redirect_uri; the description names the field', INVALID_METADATA)
  @ApiErrorResponse(
    401,
    'Missing, unknown, expired, revoked or used-up initial access token; with oidc.dynamic_client_registration.access_token.scope set, also an access token that does not authorise registration (the same answer), or a DPoP-bound one without a valid proof (invalid_dpop_proof, with a DPoP challenge)',
    {
      missing: ['invalid_token', 'an initial access token is required: Authorization: Bearer <token>'],
      invalid: ['invalid_token', 'the initial access token is unknown, expired, revoked or used up'],
      invalid_either: ['invalid_token', INVALID_REGISTRATION_TOKEN],
    },
  )
  async register(@Req() req: RequestWithRegistrar, @Body() body: unknown, @Res({ passthrough: true }) res: HttpReply) {
    // The body's shape check runs inside, so that its refusals are recorded too (README "Audit events").
    return this.refusals.recording(req, () => {
      const metadata = CREATE_BODY.transform(body);
      res.header('Cache-Control', 'no-store');
      return this.registration.register(metadata, req.initialAccessToken, req.tokenRegistrar);
    });
  }

  @Get(':client_id')
  @UseGuards(RegistrationAccessTokenGuard)
  @ApiOperation({ summary: 'Read a registered client (RFC 7592)', operationId: 'getOidcDynamicClient' })
  @ApiBearerAuth(RAT_SECURITY)
  @ApiParam(CLIENT_ID_PARAM)
  @ApiOkResponse({ type: ClientRegistrationResponse })
  @ApiErrorResponse(401, 'Invalid registration access token (the same answer for every cause)', INVALID_RAT)
  read(@Req() req: RequestWithClient, @Res({ passthrough: true }) res: HttpReply) {
    res.header('Cache-Control', 'no-store');
    return this.registration.read(req.registeredClient!);
  }

  @Put(':client_id')
  @UseGuards(RegistrationAccessTokenGuard)
  @ApiOperation({ summary: 'Replace a registered client (RFC 7592); the registration access token is rotated', operationId: 'setOidcDynamicClient' })
  @ApiBearerAuth(RAT_SECURITY)
  @ApiParam(CLIENT_ID_PARAM)
  @ApiBody({ type: ClientUpdateRequest })
  @ApiOkResponse({ type: ClientRegistrationResponse, description: 'Carries the new registration_access_token' })
  @ApiErrorResponse(400, 'invalid_client_metadata or invalid_redirect_uri; the description names the field', {
    ...INVALID_METADATA,
    server_managed: ['invalid_request', 'client_secret_expires_at must not be sent in an update: the server manages it (RFC 7592 §2.2)'],
  })
  @ApiErrorResponse(401, 'Invalid registration access token (the same answer for every cause)', INVALID_RAT)
  @ApiErrorResponse(409, 'An administrator changed the client during this update', {
    conflict: ['conflict', 'the client was changed by an administrator during this update; send it again'],
  })
  @ApiFetchesBusyResponse()
  async update(
    @Req() req: RequestWithClient,
    @Body(new RegistrationBodyPipe('update')) body: Record<string, unknown>,
    @Res({ passthrough: true }) res: HttpReply,
  ) {
    res.header('Cache-Control', 'no-store');
    return this.registration.update(req.registeredClient!, req.registrationTokenHash!, body);
  }

  @Post(':client_id/secrets/rotate')
  @HttpCode(200)
  @UseGuards(RegistrationAccessTokenGuard)
  @ApiOperation({
    summary:
      'Rotate the client secret (RFC 7592 §2.2 extension): the new one is returned once, the previous one keeps working for the configured overlap; the registration access token stays',
    operationId: 'rotateOidcDynamicClientSecret',
  })
  @ApiBearerAuth(RAT_SECURITY)
  @ApiParam(CLIENT_ID_PARAM)
  @ApiOkResponse({ type: ClientRegistrationResponse, description: 'Carries the new client_secret and its client_secret_expires_at' })
  @ApiErrorResponse(400, 'The client uses no secret, or the request has a body', {
    no_secret: ['invalid_request', 'client c1 authenticates with token_endpoint_auth_method none, which uses no client secret: there is no secret to rotate'],
    body: ['invalid_request', 'this request takes no body; found client_secret'],
  })
  @ApiErrorResponse(401, 'Invalid registration access token (the same answer for every cause)', INVALID_RAT)
  async rotateSecret(@Req() req: RequestWithClient, @Body() body: unknown, @Res({ passthrough: true }) res: HttpReply) {
    assertNoBody(body);
    res.header('Cache-Control', 'no-store');
    return this.registration.rotateSecret(req.registeredClient!, req.registrationTokenHash!);
  }

  @Post(`:client_id/${RECOVERY_PATH}`)
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Recover the registration access token (RFC 7592 extension): a private_key_jwt client authenticates with a client assertion and gets a new token; the previous one stops working',
    operationId: 'recoverOidcDynamicClientRegistrationAccessToken',
  })
  @ApiParam(CLIENT_ID_PARAM)
  @ApiConsumes('application/x-www-form-urlencoded')
  @ApiBody({ type: RegistrationAccessTokenRecoveryRequest })
  @ApiOkResponse({ type: ClientRegistrationResponse, description: 'The client as an RFC 7592 read shows it, with the new registration_access_token' })
  @ApiErrorResponse(400, 'A parameter is missing, repeated, malformed or unknown', {
    missing: ['invalid_request', 'client_assertion is required'],
    unknown: ['invalid_request', 'unknown parameter client_secret; this request takes client_assertion_type and client_assertion'],
  })
  @ApiErrorResponse(401, 'The client could not be authenticated (the same answer for every cause)', {
    invalid_client: ['invalid_client', 'client authentication failed'],
  })
  async recoverRegistrationAccessToken(@Req() req: HttpRequest, @Res({ passthrough: true }) res: HttpReply) {
    if (!this.recovery.enabled()) throw new OAuthError('not_found', 'registration access token recovery is not enabled on this server');
    const { params } = formParams(req);
    res.header('Cache-Control', 'no-store');
    return this.recovery.recover(pathParam(req, 'client_id') ?? '', params);
  }

  @Delete(':client_id')
  @HttpCode(204)
  @UseGuards(RegistrationAccessTokenGuard)
  @ApiOperation({ summary: 'Delete a registered client (RFC 7592)', operationId: 'deleteOidcDynamicClient' })
  @ApiBearerAuth(RAT_SECURITY)
  @ApiParam(CLIENT_ID_PARAM)
  @ApiNoContentResponse()
  @ApiErrorResponse(401, 'Invalid registration access token (the same answer for every cause)', INVALID_RAT)
  async delete(@Req() req: RequestWithClient): Promise<void> {
    await this.registration.delete(req.registeredClient!.id, req.registrationTokenHash!);
  }
}
