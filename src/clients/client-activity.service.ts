import { Injectable } from '@nestjs/common';
import { ConfigService } from '../config/config.service.js';
import type { ClientEntity } from './client.entity.js';
import { ClientsRepository } from './clients.repository.js';

const TOUCH_INTERVAL_S = 3600;

/**
 * When a client was last used (a token, a management call): for the
 * janitor's oidc.dynamic_client_registration.inactive_client_ttl (README,
 * "Operating Registrar"), since some clients register anew on every start and
 * never come back, and for the admin list's last_used_before/after filters.
 */
@Injectable()
export class ClientActivityService {
  constructor(
    private readonly clients: ClientsRepository,
    private readonly config: ConfigService,
  ) {}

  /** Records a use, at most once per interval per client, so a client in use costs (almost) nothing. */
  async touch(client: ClientEntity): Promise<void> {
    // A client described by a metadata document has no row to record it in.
    if (client.createdVia === 'metadata_document') return;
    const ttl = this.config.dcr().inactiveClientTtl;
    // Often enough that a client in use never looks inactive, rarely enough to cost nothing.
    const interval = ttl ? Math.min(TOUCH_INTERVAL_S, Math.floor(ttl / 4)) : TOUCH_INTERVAL_S;
    if (client.lastUsedAt && Date.now() - client.lastUsedAt.getTime() < interval * 1000) return;
    await this.clients.touch(client.id, interval);
    client.lastUsedAt = new Date();
  }
}
