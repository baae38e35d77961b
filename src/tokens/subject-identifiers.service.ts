// Subject identifiers as a client sees them (OIDC Core §8): the local subject
// for `public` clients, and for `pairwise` clients a value derived from the
// client's sector, so that clients of different sectors cannot correlate a user.
import { createHmac, randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { ClientEntity } from '../clients/client.entity.js';
import { decryptWithSecrets, encryptWithSecret } from '../common/secrets.js';
import { ConfigService } from '../config/config.service.js';
import { SubjectSaltRepository } from './subject-salt.repository.js';

/**
 * OIDC Core §8.1: the sector identifier is the host of sector_identifier_uri,
 * else the host of the redirect URIs (the validator makes a pairwise client
 * without sector_identifier_uri keep them on one host).
 */
export function sectorIdentifier(fields: Record<string, unknown>): string {
  const uri = typeof fields.sector_identifier_uri === 'string' ? fields.sector_identifier_uri : (fields.redirect_uris as string[] | undefined)?.[0];
  return uri ? new URL(uri).host : '';
}

@Injectable()
export class SubjectIdentifiersService {
  private salt?: Promise<Buffer>;

  constructor(
    private readonly salts: SubjectSaltRepository,
    private readonly config: ConfigService,
  ) {}

  /** The `sub` of ID tokens and userinfo for this client (access tokens and introspection keep the local subject). */
  async forClient(client: ClientEntity, subject: string): Promise<string> {
    if (client.fields.subject_type !== 'pairwise') return subject;
    // HMAC under a salt of the server's: stable, not reversible without the salt, one value per sector and subject.
    return createHmac('sha256', await this.pairwiseSalt())
      .update(`${sectorIdentifier(client.fields)}\n${subject}`)
      .digest('hex');
  }

  private pairwiseSalt(): Promise<Buffer> {
    this.salt ??= this.loadSalt();
    this.salt.catch(() => (this.salt = undefined));
    return this.salt;
  }

  /** Created once for every instance (the first insert wins); re-encrypted once secrets.system has a new first entry. */
  private async loadSalt(): Promise<Buffer> {
    const secrets = this.config.systemSecrets();
    await this.salts.createIfMissing(encryptWithSecret(randomBytes(32).toString('base64url'), secrets[0]));
    const encrypted = await this.salts.read();
    let salt: string;
    try {
      salt = decryptWithSecrets(encrypted, secrets.slice(0, 1));
    } catch {
      salt = decryptWithSecrets(encrypted, secrets);
      await this.salts.reencrypt(encrypted, encryptWithSecret(salt, secrets[0]));
    }
    return Buffer.from(salt, 'base64url');
  }
}
