import { ApiProperty, ApiPropertyOptional, IntersectionType } from '@nestjs/swagger';

// Optional form fields carry an empty example: Swagger UI's "Try it out" fills a field without one
// with the word "string" and sends it, which no token request survives.

/** Client credentials sent in the form body rather than with HTTP Basic (RFC 6749 §2.3.1, RFC 7523 §2.2). */
export class ClientCredentialsDto {
  @ApiPropertyOptional({ example: '', description: 'client_secret_post, and public clients where the endpoint admits them' })
  client_id?: string;

  @ApiPropertyOptional({ example: '', description: 'client_secret_post' })
  client_secret?: string;

  @ApiPropertyOptional({ example: '', enum: ['urn:ietf:params:oauth:client-assertion-type:jwt-bearer'], description: 'private_key_jwt' })
  client_assertion_type?: string;

  @ApiPropertyOptional({ example: '', description: 'private_key_jwt: a JWT signed with a key from the client\'s jwks or jwks_uri' })
  client_assertion?: string;
}

/** The grant's own parameters (RFC 6749 §4.1.3, §4.4.2, §6). */
class TokenGrantParamsDto {
  @ApiProperty({
    enum: [
      'client_credentials',
      'authorization_code',
      'refresh_token',
      'urn:ietf:params:oauth:grant-type:jwt-bearer',
      'urn:ietf:params:oauth:grant-type:token-exchange',
    ],
  })
  grant_type: string;

  @ApiPropertyOptional({ example: '', description: 'authorization_code: the code from the authorization response' })
  code?: string;

  @ApiPropertyOptional({ example: '', description: 'authorization_code: required when the authorization request carried one, and then identical' })
  redirect_uri?: string;

  @ApiPropertyOptional({ example: '', description: 'authorization_code: the PKCE verifier (RFC 7636) whose S256 hash was the code_challenge' })
  code_verifier?: string;

  @ApiPropertyOptional({ example: '', description: 'refresh_token: the refresh token; it is spent, and a new one returned' })
  refresh_token?: string;

  @ApiPropertyOptional({ description: 'Space-delimited; a subset of the client\'s scope (omitted: all of it)', example: 'invoices.read' })
  scope?: string;

  @ApiPropertyOptional({
    example: '',
    description:
      'Requested audience (Hydra; repeatable or space-delimited): client_credentials, a subset of the client\'s audience; ' +
      'authorization_code and refresh_token, a subset of the granted audience',
  })
  audience?: string;

  @ApiPropertyOptional({
    type: [String],
    example: [],
    description:
      'RFC 8707 resource indicators, one absolute URI (no fragment) per parameter, repeatable. client_credentials: values of the ' +
      'client\'s audience; authorization_code and refresh_token: a subset of what was granted, to which the access token is narrowed ' +
      '(the refresh token keeps all of it). They become the access token\'s aud; otherwise 400 invalid_target',
  })
  resource?: string[];

  @ApiPropertyOptional({ example: '', description: 'jwt-bearer (RFC 7523 §2.1): a JWT signed by a trusted issuer, naming the subject' })
  assertion?: string;

  @ApiPropertyOptional({ example: '', description: 'token-exchange (RFC 8693 §2.1): an active access token of this server' })
  subject_token?: string;

  @ApiPropertyOptional({ example: '', enum: ['urn:ietf:params:oauth:token-type:access_token'], description: 'token-exchange: required with subject_token' })
  subject_token_type?: string;

  @ApiPropertyOptional({ example: '', description: 'token-exchange: an access token of the acting party; the new token names it in act' })
  actor_token?: string;

  @ApiPropertyOptional({ example: '', enum: ['urn:ietf:params:oauth:token-type:access_token'], description: 'token-exchange: required with actor_token' })
  actor_token_type?: string;

  @ApiPropertyOptional({ example: '', enum: ['urn:ietf:params:oauth:token-type:access_token'], description: 'token-exchange: only access tokens are issued' })
  requested_token_type?: string;

}

export class TokenRequestDto extends IntersectionType(TokenGrantParamsDto, ClientCredentialsDto) {}

export class TokenResponseDto {
  @ApiProperty({ example: 'eyJhbGciOiJSUzI1NiIsInR5cCI6ImF0K2p3dCJ9...' })
  access_token: string;

  @ApiProperty({ example: 'Bearer', enum: ['Bearer', 'DPoP'], description: 'DPoP when the request carried a valid DPoP proof: the token is bound to its key (RFC 9449 §5)' })
  token_type: string;

  @ApiProperty({ example: 3600 })
  expires_in: number;

  @ApiPropertyOptional({ example: 'openid offline_access' })
  scope?: string;

  @ApiPropertyOptional({ description: 'Issued when offline_access was granted and the client may use the refresh_token grant' })
  refresh_token?: string;

  @ApiPropertyOptional({ description: 'OpenID Connect ID token, issued when openid was granted' })
  id_token?: string;

  @ApiPropertyOptional({ example: 'urn:ietf:params:oauth:token-type:access_token', description: 'Token exchange (RFC 8693 §2.2.1)' })
  issued_token_type?: string;
}

export class TokenParamDto {
  @ApiProperty({ description: 'The token to introspect or revoke' })
  token: string;

  @ApiPropertyOptional({ enum: ['access_token', 'refresh_token'] })
  token_type_hint?: string;
}

/** Introspection and revocation by a client: the token, and the client's credentials when not sent with HTTP Basic. */
export class ClientTokenParamDto extends IntersectionType(TokenParamDto, ClientCredentialsDto) {}

export class IntrospectionResponseDto {
  @ApiProperty({ example: true })
  active: boolean;

  @ApiPropertyOptional() client_id?: string;
  @ApiPropertyOptional() sub?: string;
  @ApiPropertyOptional({ example: 'read write' }) scope?: string;
  @ApiPropertyOptional({ type: [String] }) aud?: string[];
  @ApiPropertyOptional() iss?: string;
  @ApiPropertyOptional({ example: 1795680000 }) exp?: number;
  @ApiPropertyOptional({ example: 1795676400 }) iat?: number;
  @ApiPropertyOptional() jti?: string;
  @ApiPropertyOptional({ example: 'Bearer', enum: ['Bearer', 'DPoP'] }) token_type?: string;
  @ApiPropertyOptional({ enum: ['access_token', 'refresh_token'] }) token_use?: string;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'Extra claims the consent app set in session.access_token' })
  ext?: Record<string, unknown>;

  @ApiPropertyOptional({
    type: 'object',
    properties: { jkt: { type: 'string', description: 'RFC 7638 SHA-256 thumbprint of the DPoP key' } },
    required: ['jkt'],
    description: 'RFC 9449 §6.2: the key a DPoP-bound token is bound to',
  })
  cnf?: { jkt: string };

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    example: { sub: 'billing-service', act: { sub: 'gateway' } },
    description: 'RFC 8693 §4.1: the acting party of a token issued by token exchange; nested act claims are prior actors',
  })
  act?: Record<string, unknown>;
}

export class SigningKeyDto {
  @ApiProperty() kid: string;
  @ApiProperty({ enum: ['RS256', 'ES256', 'EdDSA'] }) alg: string;
  @ApiProperty({ enum: ['active', 'retired'] }) state: string;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'The public JWK' }) public_jwk: Record<string, unknown>;
  @ApiProperty({ type: String, format: 'date-time' }) created_at: string;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) retired_at: string | null;
}
