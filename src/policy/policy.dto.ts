import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsObject, IsOptional, IsString, Matches, MaxLength, ValidateIf } from 'class-validator';

export const POLICY_NAME = /^[A-Za-z0-9._:-]{1,100}$/;
export const POLICY_NAME_RULE = 'name must be 1-100 characters of A-Z a-z 0-9 . _ : -';

/** Validates a field that is absent or present; null counts as present, so it must pass the checks too. */
const IfPresent = () => ValidateIf((_object: object, value: unknown) => value !== undefined);

export class ReregistrationRuleDto {
  @ApiProperty({
    enum: ['software_statement', 'software_id_and_instance'],
    description:
      'software_statement: the verified statement\'s issuer and software_id claim; software_id_and_instance: software_id and the instance_field value',
  })
  key: string;

  @ApiPropertyOptional({
    example: 'software_instance_id',
    description: 'Client metadata (one string) that tells instances apart; default software_instance_id with software_id_and_instance, none with software_statement',
  })
  instance_field?: string;
}

export class PolicyRulesDto {
  @ApiPropertyOptional({ type: [String], example: ['client_credentials'] }) allowed_grant_types?: string[];
  @ApiPropertyOptional({ type: [String], example: [] }) allowed_response_types?: string[];
  @ApiPropertyOptional({ type: [String], example: ['client_secret_basic', 'private_key_jwt'] }) allowed_token_endpoint_auth_methods?: string[];
  @ApiPropertyOptional({ type: [String], example: ['invoices.read'] }) allowed_scopes?: string[];
  @ApiPropertyOptional({ type: [String], example: ['*.partner.example.com'], description: '`*.` matches any subdomain' })
  allowed_redirect_uri_hosts?: string[];
  @ApiPropertyOptional({
    type: [String],
    example: ['https://invoices.example.com'],
    description: 'Audiences registrants under the policy may name (instead of oidc.dynamic_client_registration.allowed_audiences)',
  })
  allowed_audiences?: string[];
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, example: { scope: 'invoices.read' }, description: 'Values used when the registrant sends none' })
  defaults?: Record<string, unknown>;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, example: { grant_types: ['client_credentials'] }, description: 'Values that replace what the registrant sent' })
  force?: Record<string, unknown>;
  @ApiPropertyOptional({ type: [String], example: ['jwks_uri'] }) forbidden_fields?: string[];
  @ApiPropertyOptional({ example: 50, minimum: 1 }) max_clients?: number;
  @ApiPropertyOptional({
    type: ReregistrationRuleDto,
    description:
      'A registration that matches a client registered earlier under this policy (with the same initial access token) returns that client, with a new registration access token, instead of a duplicate (README "Re-registration and recovering a registration access token")',
  })
  reregistration?: ReregistrationRuleDto;
}

/**
 * A policy as the admin API receives it. The shape is checked here; the rules
 * are checked one by one by parsePolicyRules, which names the rule at fault.
 * Other fields (such as clients_created echoed from a read) are dropped.
 */
export class PolicyInputDto {
  @ApiProperty({ example: 'partners', description: 'Unique; 1-100 characters of A-Z a-z 0-9 . _ : -' })
  @IfPresent()
  @IsString()
  @Matches(POLICY_NAME, { message: POLICY_NAME_RULE })
  name?: string;

  @ApiPropertyOptional({ example: 'Machine clients of onboarded partners' })
  @IfPresent()
  @IsString()
  @MaxLength(500)
  description?: string;

  @ApiProperty({ type: PolicyRulesDto })
  @IsOptional()
  @IsObject({ message: 'rules must be an object' })
  rules?: PolicyRulesDto;
}

export class PolicyDto extends PolicyInputDto {
  @ApiProperty({ example: 3, description: 'Clients registered under the policy so far' })
  clients_created: number;

  @ApiProperty({ type: String, format: 'date-time' }) created_at: string;
  @ApiProperty({ type: String, format: 'date-time' }) updated_at: string;
}
