// The authorization_flows table: one row per authorization request, from
// /oauth2/auth to the code. Challenges, verifiers and the browser binding are
// stored as keyed hashes; the caller passes those hashes, never the values.
import { Injectable } from '@nestjs/common';
import { Database } from '../database/database.js';
import type { GrantSession } from '../tokens/grants.service.js';
import type { AuthorizationRequest } from './authorization-request.js';

export type FlowStep = 'login' | 'consent';

export type FlowState = 'login_requested' | 'login_accepted' | 'login_rejected' | 'consent_requested' | 'consent_accepted' | 'consent_rejected' | 'done';

/** What the login app settled (stored as JSON). */
export interface LoginResult {
  subject: string;
  remember: boolean;
  remember_for: number;
  acr: string;
  amr: string[];
  context: Record<string, unknown>;
  auth_time: number;
}

/** What the consent app settled (stored as JSON). */
export interface ConsentResult {
  grant_scope: string[];
  grant_access_token_audience: string[];
  remember: boolean;
  remember_for: number;
  session: GrantSession;
}

/** The error the login or consent app answered with, for the client. */
export interface FlowError {
  error: string;
  error_description?: string;
}

export interface FlowRow {
  id: string;
  client_id: string;
  state: FlowState;
  request: AuthorizationRequest;
  csrf_hash: string;
  login_session_id: string | null;
  login_skip: boolean;
  consent_skip: boolean;
  subject: string | null;
  login: LoginResult | null;
  consent: ConsentResult | null;
  error: FlowError | null;
  requested_at: Date;
  live: boolean;
}

export interface NewFlow {
  id: string;
  request: AuthorizationRequest;
  csrfHash: string;
  loginChallengeHash: string;
  /** The browser's login session, when the login step may be skipped or named. */
  loginSessionId: string | null;
  loginSkip: boolean;
  subject: string | null;
  ttlSeconds: number;
}

/** The login step's outcome carried into the consent step. */
export interface ConsentStep {
  consentChallengeHash: string;
  consentSkip: boolean;
  loginSessionId: string | null;
  login: LoginResult;
}

/** An answer of the login or consent app: the next state, the hash of its verifier, and what it settled. */
export interface FlowAnswer {
  state: FlowState;
  verifierHash: string;
  login?: LoginResult;
  consent?: ConsentResult;
  error?: FlowError;
}

const FLOW_COLUMNS = `id, client_id, state, request, csrf_hash, login_session_id, login_skip, consent_skip, subject, login, consent, error,
  requested_at, expires_at > now() AS live`;

const ANSWERED: Record<FlowStep, FlowState[]> = {
  login: ['login_accepted', 'login_rejected'],
  consent: ['consent_accepted', 'consent_rejected'],
};

function json(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

@Injectable()
export class FlowsRepository {
  constructor(private readonly database: Database) {}

  async insert(flow: NewFlow): Promise<void> {
    await this.database.run(
      'flow_insert',
      `INSERT INTO authorization_flows (id, client_id, state, request, csrf_hash, login_challenge_hash, login_session_id, login_skip, subject, expires_at)
       VALUES ($1, $2, 'login_requested', $3, $4, $5, $6, $7, $8, now() + make_interval(secs => $9))`,
      [
        flow.id,
        flow.request.client_id,
        JSON.stringify(flow.request),
        flow.csrfHash,
        flow.loginChallengeHash,
        flow.loginSessionId,
        flow.loginSkip,
        flow.subject,
        flow.ttlSeconds,
      ],
    );
  }

  /** The flow a challenge names (any of its hashes under the system secrets), live or not. */
  async findByChallenge(step: FlowStep, challengeHashes: string[]): Promise<FlowRow | undefined> {
    const [row] = await this.database.run<FlowRow>(
      `flow_by_${step}_challenge`,
      `SELECT ${FLOW_COLUMNS} FROM authorization_flows WHERE ${step}_challenge_hash = ANY($1)`,
      [challengeHashes],
    );
    return row;
  }

  /**
   * Records an answer once: only a live flow still waiting in `${step}_requested`
   * moves on, so a second accept or reject of the same challenge finds nothing.
   */
  async recordAnswer(step: FlowStep, id: string, answer: FlowAnswer): Promise<boolean> {
    const updated = await this.database.run(
      `flow_answer_${answer.state}`,
      `UPDATE authorization_flows
          SET state = $3, ${step}_verifier_hash = $4, login = COALESCE($5::jsonb, login), consent = COALESCE($6::jsonb, consent),
              error = COALESCE($7::jsonb, error)
        WHERE id = $1 AND state = $2 AND expires_at > now() RETURNING id`,
      [id, `${step}_requested`, answer.state, answer.verifierHash, json(answer.login), json(answer.consent), json(answer.error)],
    );
    return updated.length > 0;
  }

  /** Spends a verifier in one statement: it must be live, answered and unspent; a second use finds nothing. */
  async takeVerifier(step: FlowStep, verifierHashes: string[]): Promise<FlowRow | undefined> {
    const [row] = await this.database.run<FlowRow>(
      `flow_take_${step}`,
      `UPDATE authorization_flows SET ${step}_verifier_hash = NULL
        WHERE ${step}_verifier_hash = ANY($1) AND state = ANY($2) AND expires_at > now()
        RETURNING ${FLOW_COLUMNS}`,
      [verifierHashes, ANSWERED[step]],
    );
    return row;
  }

  /** The login step is done: the flow waits for the consent app. */
  async requestConsent(id: string, next: ConsentStep): Promise<void> {
    await this.database.run(
      'flow_consent',
      `UPDATE authorization_flows SET state = 'consent_requested', consent_challenge_hash = $2, consent_skip = $3,
              login_session_id = $4, subject = $5, login = $6
        WHERE id = $1`,
      [id, next.consentChallengeHash, next.consentSkip, next.loginSessionId, next.login.subject, JSON.stringify(next.login)],
    );
  }

  async setState(id: string, state: FlowState): Promise<void> {
    await this.database.run('flow_state', `UPDATE authorization_flows SET state = $2 WHERE id = $1`, [id, state]);
  }
}
