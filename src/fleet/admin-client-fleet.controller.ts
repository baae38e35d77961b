import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation } from '@nestjs/swagger';
import { AdminApi } from '../common/admin-api-key.guard.js';
import { ApiErrorResponse, type ErrorExamples } from '../common/api-responses.js';
import { JsonObjectPipe } from '../common/json-object.pipe.js';
import { ShapePipe } from '../common/shape.pipe.js';
import { BulkClientActionDto, BulkClientActionResult, SuspendClientDto } from '../clients/client-filter.dto.js';
import { OAuth2Client } from '../clients/client.dto.js';
import { ClientsService } from '../clients/clients.service.js';
import { OAuthError } from '../common/oauth-error.js';
import { FleetService, parseBulkRequest, suspensionReason } from './fleet.service.js';

/** Resuming takes nothing: an empty body, `{}` or none. */
function assertNoBody(body: unknown): void {
  if (body === undefined || body === null || body === '') return;
  if (typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0) return;
  const names = typeof body === 'object' && !Array.isArray(body) ? `; found ${Object.keys(body).join(', ')}` : '';
  throw new OAuthError('invalid_request', `this request takes no body${names}`);
}

const NOT_FOUND: ErrorExamples = { not_found: ['not_found', 'client c1 does not exist'] };

/** Suspension and bulk actions on clients (README "Operating a fleet of dynamic clients"). */
@AdminApi('admin: clients')
@Controller('admin')
export class AdminClientFleetController {
  constructor(
    private readonly fleet: FleetService,
    private readonly clients: ClientsService,
  ) {}

  // Not under /admin/clients/{id}: a path beside a path parameter is ambiguous to clients and generators (a client_id "bulk").
  @Post('bulk/clients')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Suspend, resume, delete, or revoke the tokens of every client a filter matches; dry_run counts them and changes nothing',
    operationId: 'bulkOAuth2ClientAction',
  })
  @ApiBody({ type: BulkClientActionDto })
  @ApiOkResponse({ type: BulkClientActionResult })
  @ApiErrorResponse(400, 'A bad field or filter (the description names it), or an empty filter without all: true', {
    empty_filter: [
      'invalid_request',
      'filter is empty, which matches every client: name at least one filter, or send "all": true to act on every client',
    ],
    action: ['invalid_request', 'action must be one of suspend, resume, delete, revoke_tokens'],
    filter: ['invalid_request', 'filter.suspended must be true or false'],
  })
  bulk(@Body(JsonObjectPipe) body: Record<string, unknown>) {
    return this.fleet.bulk(parseBulkRequest(body));
  }

  @Post('clients/:id/suspend')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Suspend a client: no tokens, no authorization requests, its tokens inactive, no RFC 7592 update, until it is resumed',
    operationId: 'suspendOAuth2Client',
  })
  @ApiBody({ type: SuspendClientDto, required: false })
  @ApiOkResponse({ type: OAuth2Client })
  @ApiErrorResponse(400, 'A bad reason', { reason: ['invalid_request', 'reason must be a non-empty string of at most 500 characters'] })
  @ApiErrorResponse(404, 'No client has this client_id', NOT_FOUND)
  async suspend(@Param('id') id: string, @Body(ShapePipe) body: SuspendClientDto) {
    return this.clients.adminView(await this.fleet.suspend(id, suspensionReason(body.reason)));
  }

  @Post('clients/:id/resume')
  @HttpCode(200)
  @ApiOperation({ summary: 'Resume a suspended client: it and its unexpired tokens work again', operationId: 'resumeOAuth2Client' })
  @ApiOkResponse({ type: OAuth2Client })
  @ApiErrorResponse(400, 'The request has a body', { body: ['invalid_request', 'this request takes no body; found reason'] })
  @ApiErrorResponse(404, 'No client has this client_id', NOT_FOUND)
  async resume(@Param('id') id: string, @Body() body: unknown) {
    assertNoBody(body);
    return this.clients.adminView(await this.fleet.resume(id));
  }
}
