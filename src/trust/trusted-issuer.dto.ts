// The admin API's shapes for trusted JWT bearer grant issuers, named as Ory
// Hydra names them (trustOAuth2JwtGrantIssuer, trustedOAuth2JwtGrantIssuer).
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export class TrustedIssuerJwkDto {
  @ApiProperty({ enum: ['RSA', 'EC', 'OKP'] }) kty: string;
  @ApiProperty({ example: 'partner-key-1', description: 'Required: assertions name it in their kid header' }) kid: string;
  @ApiPropertyOptional({ example: 'RS256' }) alg?: string;
  @ApiPropertyOptional({ enum: ['sig'] }) use?: string;
  @ApiPropertyOptional({ description: 'RSA modulus' }) n?: string;
  @ApiPropertyOptional({ description: 'RSA exponent' }) e?: string;
  @ApiPropertyOptional({ enum: ['P-256', 'P-384', 'Ed25519'] }) crv?: string;
  @ApiPropertyOptional() x?: string;
  @ApiPropertyOptional() y?: string;
}

export class TrustJwtGrantIssuerDto {
  @ApiProperty({ example: 'https://jwt-idp.example.com', description: 'The iss of the assertions' })
  issuer: string;

  @ApiPropertyOptional({ example: 'mike@example.com', description: 'The sub the assertions may carry; required unless allow_any_subject' })
  subject?: string;

  @ApiPropertyOptional({ example: false, description: 'Any sub is accepted; then subject must be empty' })
  allow_any_subject?: boolean;

  @ApiProperty({ type: [String], example: ['invoices.read'], description: 'The scopes tokens obtained with these assertions may carry' })
  scope: string[];

  @ApiProperty({ type: TrustedIssuerJwkDto, description: 'The issuer\'s public key (RSA, EC or OKP; never a private or symmetric key)' })
  jwk: TrustedIssuerJwkDto;

  @ApiProperty({ type: String, format: 'date-time', description: 'When the trust ends; must be in the future' })
  expires_at: string;
}

export class TrustedJwtGrantPublicKeyDto {
  @ApiProperty({ example: 'https://jwt-idp.example.com', description: 'The key set, which is the issuer' }) set: string;
  @ApiProperty({ example: 'partner-key-1' }) kid: string;
}

export class TrustedJwtGrantIssuerDto {
  @ApiProperty({ example: '9edc811f-4e28-453c-9b46-4de65f00217f' }) id: string;
  @ApiProperty({ example: 'https://jwt-idp.example.com' }) issuer: string;
  @ApiProperty({ example: 'mike@example.com', description: 'Empty when allow_any_subject' }) subject: string;
  @ApiProperty({ example: false }) allow_any_subject: boolean;
  @ApiProperty({ type: [String], example: ['invoices.read'] }) scope: string[];
  @ApiProperty({ type: TrustedJwtGrantPublicKeyDto }) public_key: TrustedJwtGrantPublicKeyDto;
  @ApiProperty({ type: String, format: 'date-time' }) expires_at: string;
  @ApiProperty({ type: String, format: 'date-time' }) created_at: string;
}
