// The admin API's shape of an audit event (README "Audit events"); the same JSON goes to the log and to webhooks.
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ACTOR_TYPES, AUDIT_EVENT_TYPES } from './audit-event.js';

export class AuditActorDto {
  @ApiProperty({ enum: ACTOR_TYPES, example: 'admin', description: 'What authenticated the change; system: work no request started' })
  type: string;

  @ApiPropertyOptional({ example: '3f9a0c6e1b2d4a57', description: 'admin: the admin API key\'s id (never the key; logged at start as "audit: admin API key ids")' })
  key_id?: string;

  @ApiPropertyOptional({ example: '0b6e3a59-5c4e-4a3a-9b0e-1f2d3c4b5a69', description: 'iat: the initial access token\'s id' })
  id?: string;

  @ApiPropertyOptional({ example: 'b4f1c0de-8d55-4d5e-9a55-2f1b7d0f6c11', description: 'rat and client: the client that authenticated' })
  client_id?: string;
}

export class AuditEventDto {
  @ApiProperty({ example: '6c1a3f10-2c7e-4c4f-8d1b-1c9a7e5e2b33' })
  id: string;

  @ApiProperty({ type: String, format: 'date-time', example: '2025-11-27T10:15:30.123Z' })
  time: string;

  @ApiProperty({ enum: AUDIT_EVENT_TYPES, example: 'client.registered' })
  type: string;

  @ApiProperty({ type: AuditActorDto })
  actor: AuditActorDto;

  @ApiProperty({ type: String, nullable: true, example: 'b4f1c0de-8d55-4d5e-9a55-2f1b7d0f6c11', description: 'The client the event is about' })
  client_id: string | null;

  @ApiProperty({ type: String, nullable: true, example: '0ea34802-4fbe-4a0f-93bd-6950de7a57ce', description: 'The request\'s id (X-Request-Id), as in the access log' })
  request_id: string | null;

  @ApiProperty({ type: String, nullable: true, example: '0af7651916cd43dd8448eb211c80319c', description: 'The trace the request was part of, when tracing is on' })
  trace_id: string | null;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    example: { initial_access_token_id: '0b6e3a59-5c4e-4a3a-9b0e-1f2d3c4b5a69', policies: ['partners'] },
    description: 'Small facts about the change (ids, names, the error that refused a registration); never a secret',
  })
  details: Record<string, unknown>;
}
