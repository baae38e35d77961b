import { Body, Controller, Delete, Get, HttpCode, Post, Put, Req, Res, UseGuards, UseInterceptors } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import { RegistrationRefusalsInterceptor } from '../audit/registration-refusals.interceptor.js';
import { ApiErrorResponse, ApiFetchesBusyResponse, RETRY_AFTER_HEADER, type ErrorExamples } from '../common/api-responses.js';
import type { HttpReply } from '../common/http.js';
import { OAuthError } from '../common/oauth-error.js';
import { InitialAccessTokenGuard, type RequestWithIat } from '../policy/initial-access-token.guard.js';
import { DcrEnabledGuard } from './dcr-enabled.guard.js';
import { RegistrationRateLimitGuard } from './rate-limiter.js';
import { RegistrationAccessTokenGuard, type RequestWithClient } from './registration-access-token.guard.js';
import { RegistrationBodyPipe } from './registration-body.pipe.js';
import { ClientRegistrationRequest, ClientRegistrationResponse, ClientUpdateRequest } from './registration.dto.js';
import { RegistrationService } from './registration.service.js';

export const IAT_SECURITY = 'initial-access-token';
export const RAT_SECURITY = 'registration-access-token';

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

const CLIENT_ID_PARAM = { name: 'client_id', description: 'The client_id issued at registration', schema: { type: 'string' } } as const;

@ApiTags('dynamic client registration')
@ApiErrorResponse(404, 'Dynamic client registration is disabled', DCR_DISABLED)
@UseGuards(DcrEnabledGuard)
@Controller('oauth2/register')
export class RegistrationController {
  constructor(private readonly registration: RegistrationService) {}

  @Post()
  @HttpCode(201)
  @UseGuards(RegistrationRateLimitGuard, InitialAccessTokenGuard)
  @UseInterceptors(RegistrationRefusalsInterceptor)
  @ApiOperation({ summary: 'Register a client (RFC 7591)', operationId: 'createOidcDynamicClient' })
  @ApiErrorResponse(
    429,
    'Too many registrations from this address; see Retry-After',
    { too_many_requests: ['too_many_requests', 'more than 10 registrations from this address; retry in 42 s'] },
    RETRY_AFTER_HEADER,
  )
  @ApiFetchesBusyResponse()
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
  @ApiCreatedResponse({ type: ClientRegistrationResponse, description: 'client_secret and registration_access_token appear only here' })
  @ApiErrorResponse(400, 'invalid_client_metadata or invalid_redirect_uri; the description names the field', INVALID_METADATA)
  @ApiErrorResponse(401, 'Missing, unknown, expired, revoked or used-up initial access token', {
    missing: ['invalid_token', 'an initial access token is required: Authorization: Bearer <token>'],
    invalid: ['invalid_token', 'the initial access token is unknown, expired, revoked or used up'],
  })
  async register(
    @Req() req: RequestWithIat,
    @Body(new RegistrationBodyPipe('create')) body: Record<string, unknown>,
    @Res({ passthrough: true }) res: HttpReply,
  ) {
    res.header('Cache-Control', 'no-store');
    return this.registration.register(body, req.initialAccessToken);
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
