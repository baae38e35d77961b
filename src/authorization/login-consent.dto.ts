// Request and response shapes of the login and consent admin API, with Hydra's field names.
// The answers' shape checks run wherever an answer comes from (the admin API
// or the development pages), after the challenge is found.
import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { withoutConstructorKeys } from '../common/safe-input.js';
import { plainToInstance, Type, type ClassConstructor } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  MaxLength,
  Min,
  ValidateNested,
  validateSync,
  type ValidationError,
} from 'class-validator';
import { OAuthError } from '../common/oauth-error.js';

const MAX_REMEMBER_FOR = 10 * 365 * 86400;
const MAX_LIST = 100;
const MAX_TEXT = 1024;
/** RFC 6749 §4.1.2.1: error and error_description are printable ASCII without " and \. */
const ERROR_TEXT = /^[\x20\x21\x23-\x5B\x5D-\x7E]*$/;
const PRINTABLE = { matches: ERROR_TEXT, message: 'error_description and error_hint must be printable ASCII without " or \\' };
const ERROR_CODE = /^[a-z0-9_]+$/i;

/** An optional list of at most 100 strings of at most 1024 characters. */
function OptionalStrings(name: string): PropertyDecorator {
  const message = `${name} must be an array of strings`;
  return applyDecorators(
    IsOptional(),
    IsArray({ message }),
    ArrayMaxSize(MAX_LIST, { message }),
    IsString({ each: true, message }),
    MaxLength(MAX_TEXT, { each: true, message }),
  );
}

/** An optional string of at most `max` characters, and then of the pattern given. */
function OptionalText(name: string, max = MAX_TEXT, pattern?: { matches: RegExp; message: string }): PropertyDecorator {
  const message = `${name} must be a string of at most ${max} characters`;
  const shape = [IsOptional(), IsString({ message }), MaxLength(max, { message })];
  return applyDecorators(...shape, ...(pattern ? [Matches(pattern.matches, { message: pattern.message })] : []));
}

function OptionalObject(name: string): PropertyDecorator {
  return applyDecorators(IsOptional(), IsObject({ message: `${name} must be an object` }));
}

function OptionalRemember(): PropertyDecorator {
  return applyDecorators(IsOptional(), IsBoolean({ message: 'remember must be a boolean' }));
}

/** Whole seconds, at most ten years. */
function OptionalRememberFor(): PropertyDecorator {
  const message = 'remember_for must be a non-negative integer number of seconds (0 = the browser session)';
  return applyDecorators(IsOptional(), IsInt({ message }), Min(0, { message }), Max(MAX_REMEMBER_FOR, { message }));
}

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
  @ApiProperty({ description: 'The authenticated user\'s id; becomes sub', example: 'user-123' })
  @IsString({ message: 'subject is required: a string of 1 to 255 characters' })
  @Length(1, 255, { message: 'subject is required: a string of 1 to 255 characters' })
  subject: string;

  @ApiPropertyOptional({ description: 'Remember the login in a session cookie' })
  @OptionalRemember()
  remember?: boolean;

  @ApiPropertyOptional({ description: 'Seconds to remember it; 0 = the browser session' })
  @OptionalRememberFor()
  remember_for?: number;

  @ApiPropertyOptional({ description: 'Authentication context class reference' })
  @OptionalText('acr')
  acr?: string;

  @ApiPropertyOptional({ type: [String], description: 'Authentication methods, e.g. ["pwd", "otp"]' })
  @OptionalStrings('amr')
  amr?: string[];

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'Passed on to the consent request' })
  @OptionalObject('context')
  context?: Record<string, unknown>;
}

export class ConsentSessionClaimsDto {
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'Extra ID token and userinfo claims' })
  @OptionalObject('id_token')
  id_token?: Record<string, unknown>;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'Extra access token claims (the ext claim)' })
  @OptionalObject('access_token')
  access_token?: Record<string, unknown>;
}

export class AcceptConsentRequestDto {
  @ApiPropertyOptional({ type: [String], description: 'Granted scopes: a subset of requested_scope' })
  @OptionalStrings('grant_scope')
  grant_scope?: string[];

  @ApiPropertyOptional({ type: [String], description: 'Access token audience: a subset of the client\'s audience' })
  @OptionalStrings('grant_access_token_audience')
  grant_access_token_audience?: string[];

  @ApiPropertyOptional({ type: ConsentSessionClaimsDto })
  @OptionalObject('session')
  @ValidateNested({ message: 'session must be an object' })
  @Type(() => ConsentSessionClaimsDto)
  session?: ConsentSessionClaimsDto;

  @ApiPropertyOptional({ description: 'Remember this consent for later requests' })
  @OptionalRemember()
  remember?: boolean;

  @ApiPropertyOptional({ description: 'Seconds to remember it; 0 = until revoked' })
  @OptionalRememberFor()
  remember_for?: number;
}

export class RejectRequestDto {
  @ApiPropertyOptional({ description: 'OAuth error code sent to the client; default access_denied', example: 'access_denied' })
  @OptionalText('error', 128, { matches: ERROR_CODE, message: 'error must be an OAuth error code (letters, digits and _)' })
  error?: string;

  @ApiPropertyOptional()
  @OptionalText('error_description', MAX_TEXT, PRINTABLE)
  error_description?: string;

  @ApiPropertyOptional({ description: 'Appended to error_description' })
  @OptionalText('error_hint', MAX_TEXT, PRINTABLE)
  error_hint?: string;
}

export class RedirectToDto {
  @ApiProperty({ description: 'Send the browser here' }) redirect_to: string;
}

/**
 * The message of the first failing check: a body is refused for one named
 * field at a time, a field of the wrong type or length before a string of the
 * wrong form, and fields before their nested fields.
 */
function firstProblem(errors: ValidationError[]): string | undefined {
  const failed = errors.flatMap((error) => Object.entries(error.constraints ?? {}));
  const first = failed.find(([check]) => check !== 'matches') ?? failed[0];
  if (first !== undefined) return first[1];
  const nested = errors.flatMap((error) => error.children ?? []);
  return nested.length > 0 ? firstProblem(nested) : undefined;
}

/** An answer body checked against its DTO; invalid_request names the first field in error. */
export function checkedAnswer<T extends object>(dto: ClassConstructor<T>, body: Record<string, unknown>): T {
  const answer = plainToInstance(dto, withoutConstructorKeys(body));
  const problem = firstProblem(validateSync(answer, { forbidUnknownValues: false }));
  if (problem !== undefined) throw new OAuthError('invalid_request', problem);
  return answer;
}
