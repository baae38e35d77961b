import { ClientEntity } from '../clients/client.entity.js';
import { InitialAccessTokenEntity } from '../policy/initial-access-token.entity.js';
import { PolicyEntity } from '../policy/policy.entity.js';
import { AccessTokenEntity } from '../tokens/access-token.entity.js';
import { SigningKeyEntity } from '../tokens/signing-key.entity.js';

export const ENTITIES = [ClientEntity, InitialAccessTokenEntity, PolicyEntity, SigningKeyEntity, AccessTokenEntity];
