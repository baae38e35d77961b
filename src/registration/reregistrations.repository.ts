// The reregistration_key column of the clients table (README "Re-registration
// and recovering a registration access token"): finding the client a key names,
// and inserting a client with its key, where the unique index settles races.
import { Injectable } from '@nestjs/common';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity.js';
import { ClientEntity } from '../clients/client.entity.js';
import { Database } from '../database/database.js';
import { isUniqueViolation } from '../database/db-errors.js';

const KEY_INDEX = 'clients_reregistration_key_idx';

/** Another registration with the same key inserted its client first; the caller re-registers that one instead. */
export class ReregistrationKeyTaken extends Error {
  constructor() {
    super('another registration with the same reregistration key created the client first');
  }
}

@Injectable()
export class ReregistrationsRepository {
  constructor(private readonly database: Database) {}

  /** The client with this key, its row locked until the ambient transaction ends. */
  lockByKey(key: string): Promise<ClientEntity | null> {
    return this.database
      .manager()
      .getRepository(ClientEntity)
      .findOne({ where: { reregistrationKey: key }, lock: { mode: 'pessimistic_write' } });
  }

  /** Inserts a client carrying its key; a client inserted meanwhile with the same key throws ReregistrationKeyTaken. */
  async insert(client: ClientEntity): Promise<void> {
    try {
      await this.database.manager().getRepository(ClientEntity).insert(client as QueryDeepPartialEntity<ClientEntity>);
    } catch (err) {
      const constraint = (err as { constraint?: unknown; driverError?: { constraint?: unknown } }).driverError?.constraint ?? (err as { constraint?: unknown }).constraint;
      if (isUniqueViolation(err) && constraint === KEY_INDEX) throw new ReregistrationKeyTaken();
      throw err;
    }
  }
}
