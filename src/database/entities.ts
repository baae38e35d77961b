import { ClientEntity } from '../clients/client.entity.js';
import { InitialAccessTokenEntity } from '../policy/initial-access-token.entity.js';

export const ENTITIES = [ClientEntity, InitialAccessTokenEntity];
