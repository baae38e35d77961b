// Registrations are written by group commit (README "Performance"): the
// clients registered within one event-loop turn, the uses of their initial
// access tokens and their audit events go to PostgreSQL in one statement, and
// each registrant is answered after its commit. Uses stay exact: the clients
// of a token that cannot give all of them are written one at a time.
import { Injectable } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import { GroupCommit, type Outcome } from '../database/group-commit.js';
import { InitialAccessTokensService } from '../policy/initial-access-tokens.service.js';
import { RegistrationsRepository, type NewRegistration } from './registrations.repository.js';

export type { NewRegistration } from './registrations.repository.js';

@Injectable()
export class RegistrationWriter {
  private readonly batches = new GroupCommit<NewRegistration, boolean>((batch) => this.write(batch));

  constructor(
    private readonly registrations: RegistrationsRepository,
    private readonly audit: AuditService,
    private readonly iats: InitialAccessTokensService,
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
    const { inserted: ids, usedUp } = await this.registrations.insert(batch);
    const stored = batch.filter((r) => ids.has(r.client.id));
    this.audit.announce(stored.map((r) => r.event));
    if (usedUp) await this.iats.forgetAll();
    const outcomes: Array<Outcome<boolean>> = [];
    for (const registration of batch) {
      if (ids.has(registration.client.id)) outcomes.push({ ok: true, value: true });
      else if (batch.length === 1) outcomes.push({ ok: true, value: false });
      // Its token had fewer uses left than this batch had clients for it: each of those tries alone, in turn.
      else outcomes.push(...(await this.write([registration])));
    }
    return outcomes;
  }
}
