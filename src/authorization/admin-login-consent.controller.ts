import { Body, Controller, Delete, Get, HttpCode, Put, Req, Res } from '@nestjs/common';
import { ApiBody, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiQuery, ApiResponse } from '@nestjs/swagger';
import { AdminApi } from '../common/admin-api-key.guard.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import type { HttpReply, HttpRequest } from '../common/http.js';
import { JsonObjectPipe } from '../common/json-object.pipe.js';
import { OAuthError } from '../common/oauth-error.js';
import { queryParam } from '../common/pagination.js';
import {
  AcceptConsentRequestDto,
  AcceptLoginRequestDto,
  ConsentRequestDto,
  LoginRequestDto,
  RedirectToDto,
  RejectRequestDto,
} from './login-consent.dto.js';
import { LoginConsentService, RequestAlreadyHandled } from './login-consent.service.js';

async function goneWhenHandled<T>(res: HttpReply, read: () => Promise<T>): Promise<T | RedirectToDto> {
  try {
    return await read();
  } catch (err) {
    if (!(err instanceof RequestAlreadyHandled)) throw err;
    res.status(410);
    return { redirect_to: err.redirectTo };
  }
}

const loginChallenge = ApiQuery({ name: 'login_challenge', required: true, schema: { type: 'string' } });
const consentChallenge = ApiQuery({ name: 'consent_challenge', required: true, schema: { type: 'string' } });

/** The login and consent app's side of the flow, at Hydra's paths. */
@AdminApi('admin: login and consent')
@ApiResponse({ status: 404, type: ErrorResponseDto, description: 'Unknown or expired challenge' })
@ApiResponse({ status: 409, type: ErrorResponseDto, description: 'The request was already accepted or rejected (a second answer)' })
@Controller('admin/oauth2/auth')
export class AdminLoginConsentController {
  constructor(private readonly flows: LoginConsentService) {}

  @Get('requests/login')
  @loginChallenge
  @ApiOperation({ summary: 'Read a login request', operationId: 'getOAuth2LoginRequest' })
  @ApiOkResponse({ type: LoginRequestDto })
  @ApiResponse({ status: 410, type: RedirectToDto, description: 'Already answered: send the browser to redirect_to to start again' })
  loginRequest(@Req() req: HttpRequest, @Res({ passthrough: true }) res: HttpReply): Promise<LoginRequestDto | RedirectToDto> {
    return goneWhenHandled(res, () => this.flows.loginRequest(queryParam(req, 'login_challenge')));
  }

  @Put('requests/login/accept')
  @loginChallenge
  @ApiOperation({ summary: 'Accept a login request: the user is authenticated as subject', operationId: 'acceptOAuth2LoginRequest' })
  @ApiBody({ type: AcceptLoginRequestDto })
  @ApiOkResponse({ type: RedirectToDto })
  acceptLogin(@Req() req: HttpRequest, @Body(JsonObjectPipe) body: Record<string, unknown>): Promise<{ redirect_to: string }> {
    return this.flows.acceptLogin(queryParam(req, 'login_challenge'), body);
  }

  @Put('requests/login/reject')
  @loginChallenge
  @ApiOperation({ summary: 'Reject a login request: the client gets the error', operationId: 'rejectOAuth2LoginRequest' })
  @ApiBody({ type: RejectRequestDto })
  @ApiOkResponse({ type: RedirectToDto })
  rejectLogin(@Req() req: HttpRequest, @Body(JsonObjectPipe) body: Record<string, unknown>): Promise<{ redirect_to: string }> {
    return this.flows.rejectLogin(queryParam(req, 'login_challenge'), body);
  }

  @Get('requests/consent')
  @consentChallenge
  @ApiOperation({ summary: 'Read a consent request', operationId: 'getOAuth2ConsentRequest' })
  @ApiOkResponse({ type: ConsentRequestDto })
  @ApiResponse({ status: 410, type: RedirectToDto, description: 'Already answered: send the browser to redirect_to to start again' })
  consentRequest(@Req() req: HttpRequest, @Res({ passthrough: true }) res: HttpReply): Promise<ConsentRequestDto | RedirectToDto> {
    return goneWhenHandled(res, () => this.flows.consentRequest(queryParam(req, 'consent_challenge')));
  }

  @Put('requests/consent/accept')
  @consentChallenge
  @ApiOperation({ summary: 'Accept a consent request with the scopes and audience granted', operationId: 'acceptOAuth2ConsentRequest' })
  @ApiBody({ type: AcceptConsentRequestDto })
  @ApiOkResponse({ type: RedirectToDto })
  acceptConsent(@Req() req: HttpRequest, @Body(JsonObjectPipe) body: Record<string, unknown>): Promise<{ redirect_to: string }> {
    return this.flows.acceptConsent(queryParam(req, 'consent_challenge'), body);
  }

  @Put('requests/consent/reject')
  @consentChallenge
  @ApiOperation({ summary: 'Reject a consent request: the client gets the error', operationId: 'rejectOAuth2ConsentRequest' })
  @ApiBody({ type: RejectRequestDto })
  @ApiOkResponse({ type: RedirectToDto })
  rejectConsent(@Req() req: HttpRequest, @Body(JsonObjectPipe) body: Record<string, unknown>): Promise<{ redirect_to: string }> {
    return this.flows.rejectConsent(queryParam(req, 'consent_challenge'), body);
  }

  @Delete('sessions/login')
  @HttpCode(204)
  @ApiQuery({ name: 'subject', required: false, description: 'End every login session of this subject', schema: { type: 'string' } })
  @ApiQuery({ name: 'sid', required: false, description: 'End this one login session', schema: { type: 'string' } })
  @ApiOperation({ summary: 'End login sessions: the next request asks the login app again', operationId: 'revokeOAuth2LoginSessions' })
  @ApiNoContentResponse({ description: 'Ended (or there was none)' })
  async revokeLoginSessions(@Req() req: HttpRequest): Promise<void> {
    const subject = queryParam(req, 'subject');
    const sid = queryParam(req, 'sid');
    if (!subject && !sid) throw new OAuthError('invalid_request', 'subject or sid is required');
    await this.flows.revokeLoginSessions({ subject: subject || undefined, ids: sid ? [sid] : [] });
  }

  @Delete('sessions/consent')
  @HttpCode(204)
  @ApiQuery({ name: 'subject', required: true, schema: { type: 'string' } })
  @ApiQuery({ name: 'client', required: false, description: 'Revoke consent given to this client', schema: { type: 'string' } })
  @ApiQuery({ name: 'all', required: false, type: Boolean, description: 'Revoke consent given to every client' })
  @ApiOperation({
    summary: 'Revoke consent: remembered consent is forgotten and every token issued under it revoked',
    operationId: 'revokeOAuth2ConsentSessions',
  })
  @ApiNoContentResponse({ description: 'Revoked (or there was none)' })
  async revokeConsentSessions(@Req() req: HttpRequest): Promise<void> {
    const subject = queryParam(req, 'subject');
    const client = queryParam(req, 'client');
    const all = queryParam(req, 'all');
    if (!subject) throw new OAuthError('invalid_request', 'subject is required');
    if (all !== undefined && all !== 'true' && all !== 'false') throw new OAuthError('invalid_request', 'all must be true or false');
    if (!client && all !== 'true') throw new OAuthError('invalid_request', 'name a client, or set all=true');
    await this.flows.revokeConsent(subject, all === 'true' ? undefined : client);
  }
}
