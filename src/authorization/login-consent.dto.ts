// Request and response shapes of the login and consent admin API, with Hydra's field names.
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class OidcContextDto {
  @ApiPropertyOptional({ type: [String] }) acr_values?: string[];
  @ApiPropertyOptional({ type: [String] }) ui_locales?: string[];
  @ApiPropertyOptional() login_hint?: string;
  @ApiPropertyOptional() display?: string;
}

export class LoginRequestDto {
  @ApiProperty({ description: 'The login challenge' }) challenge: string;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'The client, as the admin API shows it' })
  client: Record<string, unknown>;
  @ApiProperty({ description: 'The authorization request URL as the browser sent it' }) request_url: string;
  @ApiProperty({ type: [String] }) requested_scope: string[];
  @ApiProperty({ type: [String] }) requested_access_token_audience: string[];
  @ApiProperty({ description: 'True when a remembered login session exists: accept at once with its subject' }) skip: boolean;
  @ApiProperty({ description: 'The remembered subject when skip is true, otherwise empty' }) subject: string;
  @ApiPropertyOptional({ description: 'The login session id' }) session_id?: string;
  @ApiProperty({ type: OidcContextDto }) oidc_context: OidcContextDto;
  @ApiProperty({ type: String, format: 'date-time' }) requested_at: string;
}

export class ConsentRequestDto extends LoginRequestDto {
  @ApiProperty() acr: string;
  @ApiProperty({ type: [String] }) amr: string[];
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'The context the login app passed on' })
  context: Record<string, unknown>;
  @ApiPropertyOptional() login_session_id?: string;
}

export class AcceptLoginRequestDto {
  @ApiProperty({ description: 'The authenticated user\'s id; becomes sub', example: 'user-123' }) subject: string;
  @ApiPropertyOptional({ description: 'Remember the login in a session cookie' }) remember?: boolean;
  @ApiPropertyOptional({ description: 'Seconds to remember it; 0 = the browser session' }) remember_for?: number;
  @ApiPropertyOptional({ description: 'Authentication context class reference' }) acr?: string;
  @ApiPropertyOptional({ type: [String], description: 'Authentication methods, e.g. ["pwd", "otp"]' }) amr?: string[];
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'Passed on to the consent request' })
  context?: Record<string, unknown>;
}

export class ConsentSessionClaimsDto {
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'Extra ID token and userinfo claims' })
  id_token?: Record<string, unknown>;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'Extra access token claims (the ext claim)' })
  access_token?: Record<string, unknown>;
}

export class AcceptConsentRequestDto {
  @ApiPropertyOptional({ type: [String], description: 'Granted scopes: a subset of requested_scope' }) grant_scope?: string[];
  @ApiPropertyOptional({ type: [String], description: 'Access token audience: a subset of the client\'s audience' })
  grant_access_token_audience?: string[];
  @ApiPropertyOptional({ description: 'Remember this consent for later requests' }) remember?: boolean;
  @ApiPropertyOptional({ description: 'Seconds to remember it; 0 = until revoked' }) remember_for?: number;
  @ApiPropertyOptional({ type: ConsentSessionClaimsDto }) session?: ConsentSessionClaimsDto;
}

export class RejectRequestDto {
  @ApiPropertyOptional({ description: 'OAuth error code sent to the client; default access_denied', example: 'access_denied' })
  error?: string;
  @ApiPropertyOptional() error_description?: string;
  @ApiPropertyOptional({ description: 'Appended to error_description' }) error_hint?: string;
}

export class RedirectToDto {
  @ApiProperty({ description: 'Send the browser here' }) redirect_to: string;
}
