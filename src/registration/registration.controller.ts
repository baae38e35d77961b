import { Body, Controller, Delete, Get, HttpCode, Post, Put, Req, Res, UseGuards } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { HttpReply } from '../common/http.js';
import { ErrorResponseDto } from '../common/error-response.dto.js';
import { InitialAccessTokenGuard, type RequestWithIat } from '../policy/initial-access-token.guard.js';
import { DcrEnabledGuard } from './dcr-enabled.guard.js';
import { RegistrationRateLimitGuard } from './rate-limiter.js';
import { RegistrationAccessTokenGuard, type RequestWithClient } from './registration-access-token.guard.js';
import { RegistrationBodyPipe } from './registration-body.pipe.js';
import { ClientRegistrationRequest, ClientRegistrationResponse, ClientUpdateRequest } from './registration.dto.js';
import { RegistrationService } from './registration.service.js';

export const IAT_SECURITY = 'initial-access-token';
export const RAT_SECURITY = 'registration-access-token';

@ApiTags('dynamic client registration')
@ApiResponse({ status: 404, type: ErrorResponseDto, description: 'Dynamic client registration is disabled' })
@UseGuards(DcrEnabledGuard)
@Controller('oauth2/register')
export class RegistrationController {
  constructor(private readonly registration: RegistrationService) {}

  @Post()
  @HttpCode(201)
  @UseGuards(RegistrationRateLimitGuard, InitialAccessTokenGuard)
  @ApiOperation({ summary: 'Register a client (RFC 7591)', operationId: 'createOidcDynamicClient' })
  @ApiResponse({ status: 429, type: ErrorResponseDto, description: 'Too many registrations from this address; see Retry-After' })
  @ApiBearerAuth(IAT_SECURITY)
  @ApiBody({ type: ClientRegistrationRequest })
  @ApiCreatedResponse({ type: ClientRegistrationResponse, description: 'client_secret and registration_access_token appear only here' })
  @ApiResponse({ status: 400, type: ErrorResponseDto, description: 'invalid_client_metadata or invalid_redirect_uri' })
  @ApiResponse({ status: 401, type: ErrorResponseDto, description: 'Missing, unknown, expired, revoked or used-up initial access token' })
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
  @ApiParam({ name: 'client_id' })
  @ApiOkResponse({ type: ClientRegistrationResponse })
  @ApiResponse({ status: 401, type: ErrorResponseDto, description: 'Invalid registration access token (the same answer for every cause)' })
  read(@Req() req: RequestWithClient, @Res({ passthrough: true }) res: HttpReply) {
    res.header('Cache-Control', 'no-store');
    return this.registration.read(req.registeredClient!);
  }

  @Put(':client_id')
  @UseGuards(RegistrationAccessTokenGuard)
  @ApiOperation({ summary: 'Replace a registered client (RFC 7592); the registration access token is rotated', operationId: 'setOidcDynamicClient' })
  @ApiBearerAuth(RAT_SECURITY)
  @ApiParam({ name: 'client_id' })
  @ApiBody({ type: ClientUpdateRequest })
  @ApiOkResponse({ type: ClientRegistrationResponse, description: 'Carries the new registration_access_token' })
  @ApiResponse({ status: 400, type: ErrorResponseDto })
  @ApiResponse({ status: 401, type: ErrorResponseDto })
  async update(
    @Req() req: RequestWithClient,
    @Body(new RegistrationBodyPipe('update')) body: Record<string, unknown>,
    @Res({ passthrough: true }) res: HttpReply,
  ) {
    res.header('Cache-Control', 'no-store');
    return this.registration.update(req.registeredClient!, req.registrationTokenHash!, body);
  }

  @Delete(':client_id')
  @HttpCode(204)
  @UseGuards(RegistrationAccessTokenGuard)
  @ApiOperation({ summary: 'Delete a registered client (RFC 7592)', operationId: 'deleteOidcDynamicClient' })
  @ApiBearerAuth(RAT_SECURITY)
  @ApiParam({ name: 'client_id' })
  @ApiNoContentResponse()
  @ApiResponse({ status: 401, type: ErrorResponseDto })
  async delete(@Req() req: RequestWithClient): Promise<void> {
    await this.registration.delete(req.registeredClient!.id, req.registrationTokenHash!);
  }
}
