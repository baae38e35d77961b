// Registrations are written by group commit (README "Performance"): the
// clients registered within one event-loop turn, the uses of their initial
// access tokens and their audit events go to PostgreSQL in one transaction,
// and each registrant is answered after its commit. Uses stay exact: the
// clients of a token that cannot give all of them are written one at a time.
import { Injectable } from '@nestjs/common';
import type { RecordedEvent } from '../audit/audit-events.repository.js';
import { AuditService } from '../audit/audit.service.js';
import type { ClientEntity } from '../clients/client.entity.js';
import { Database } from '../database/database.js';
import { GroupCommit, type Outcome } from '../database/group-commit.js';
import { InitialAccessTokensService } from '../policy/initial-access-tokens.service.js';

export interface NewRegistration {
  client: ClientEntity;
  /** The initial access token that authorised it, which gives it one use. */
  iatId: string | null;
  /** Its client.registered event, prepared in the registrant's request. */
  event: RecordedEvent;
}

@Injectable()
export class RegistrationWriter {
  private readonly batches = new GroupCommit<NewRegistration, boolean>((batch) => this.write(batch));

  constructor(
    private readonly database: Database,
    private readonly iats: InitialAccessTokensService,
    private readonly audit: AuditService,
  ) {}

  /**
   * Stores the client, its token's use and its event, committed with the other
   * registrations of this moment. False when its initial access token has no
   * use left (or expired) by then: nothing of it was stored.
   */
  store(registration: NewRegistration): Promise<boolean> {
    return this.batches.submit(registration);
  }

  private async write(batch: readonly NewRegistration[]): Promise<Array<Outcome<boolean>>> {
    const stored = await this.database.transaction(async () => {
      const ids = await this.iats.insertRegisteredClients(batch);
      const done = batch.filter((r) => ids.has(r.client.id));
      await this.audit.insert(done.map((r) => r.event));
      return done;
    });
    this.audit.announce(stored.map((r) => r.event));
    const outcomes: Array<Outcome<boolean>> = [];
    for (const registration of batch) {
      if (stored.includes(registration)) outcomes.push({ ok: true, value: true });
      else if (batch.length === 1) outcomes.push({ ok: true, value: false });
      // Its token had fewer uses left than this batch had clients for it: each of those tries alone, in turn.
      else outcomes.push(...(await this.write([registration])));
    }
    return outcomes;
  }
}
