// OpenAPI descriptions of the client filters (client-filter.ts): as query
// parameters of the list, and as the `filter` object of a bulk action.
import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiQuery } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';

const DATE_TIME = { type: 'string', format: 'date-time' } as const;

/** name -> [schema, description]; the same for both forms. */
const FILTERS: Record<string, [Record<string, unknown>, string]> = {
  client_name: [{ type: 'string' }, 'Only clients with exactly this client_name'],
  owner: [{ type: 'string' }, 'Only clients with exactly this owner'],
  initial_access_token_id: [{ type: 'string' }, 'Only clients registered with this initial access token (its id)'],
  policy: [{ type: 'string' }, 'Only clients registered through this policy (a name the initial access token listed)'],
  software_id: [{ type: 'string' }, 'Only clients with this software_id (RFC 7591 §2)'],
  software_statement_issuer: [{ type: 'string' }, 'Only clients registered with a software statement of this issuer'],
  created_via: [{ type: 'string', enum: ['admin', 'dcr'] }, 'Only clients created through the admin API, or through dynamic registration'],
  last_used_before: [DATE_TIME, 'Only clients last used (a token issued, a management call) before this RFC 3339 time; never-used clients do not match'],
  last_used_after: [DATE_TIME, 'Only clients last used after this RFC 3339 time'],
  suspended: [{ type: 'boolean' }, 'Only suspended clients (true), or only clients that are not (false)'],
};

/** The filters as optional query parameters of GET /admin/clients. */
export function ApiClientFilterQueries(): MethodDecorator {
  return applyDecorators(
    ...Object.entries(FILTERS).map(([name, [schema, description]]) => ApiQuery({ name, required: false, description, schema })),
  );
}

/** The `filter` of POST /admin/bulk/clients: the list's filters as a JSON object. */
export class ClientFilterDto {}
for (const [name, [schema, description]] of Object.entries(FILTERS)) {
  ApiPropertyOptional({ ...schema, description } as never)(ClientFilterDto.prototype, name);
}

export const BULK_ACTIONS = ['suspend', 'resume', 'delete', 'revoke_tokens'] as const;
export type BulkAction = (typeof BULK_ACTIONS)[number];

/** POST /admin/bulk/clients (README "Operating a fleet of dynamic clients"). */
export class BulkClientActionDto {
  @ApiPropertyOptional({ type: ClientFilterDto, description: 'The clients to act on, as the list filters them; empty or absent only with all: true' })
  filter?: ClientFilterDto;

  @ApiProperty({ enum: BULK_ACTIONS, description: 'revoke_tokens ends every access and refresh token of the clients, in both formats' })
  action: BulkAction;

  @ApiPropertyOptional({ type: Boolean, default: false, description: 'true: count the matching clients and change nothing' })
  dry_run?: boolean;

  @ApiPropertyOptional({ type: String, maxLength: 500, description: 'With suspend: the reason recorded on each client (and shown to its registrant)' })
  reason?: string;

  @ApiPropertyOptional({ type: Boolean, default: false, description: 'Must be true for an empty filter, which matches every client' })
  all?: boolean;
}

export class BulkClientActionResult {
  @ApiProperty({ example: 42, description: 'Clients that matched the filter' })
  matched: number;

  @ApiPropertyOptional({ example: 40, description: 'Clients the action changed (absent on a dry run): a client already in the requested state is not counted' })
  applied?: number;

  @ApiPropertyOptional({ type: String, isArray: true, description: 'On a dry run: the first matching client ids (at most 100), in id order' })
  sample?: string[];
}

export class SuspendClientDto {
  // Checked by suspensionReason, which names the field in its error.
  @IsOptional()
  @ApiPropertyOptional({ type: String, maxLength: 500, example: 'abuse report #1234', description: 'Recorded on the client and shown to its registrant' })
  reason?: string;
}
