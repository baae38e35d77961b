// Delivers audit events to the configured webhooks from the outbox (README
// "Audit events"): at least once, in every instance, each due row claimed by
// one instance at a time; failures are retried with exponential backoff and
// jitter until audit.delivery.max_attempts or audit.delivery.max_age.
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { AppLogger } from '../common/logging.js';
import { SafeFetcher } from '../common/safe-fetch.js';
import { ConfigService } from '../config/config.service.js';
import { AuditEventsRepository, type ClaimedDelivery } from './audit-events.repository.js';
import { AuditService } from './audit.service.js';
import { webhookId, type AuditWebhook } from './webhook-config.js';

/** Deliveries claimed per round. */
const BATCH = 20;
/** Longest wait between two attempts. */
const MAX_BACKOFF_SECONDS = 3600;
/** What is read of a receiver's answer; its body is not used. */
const MAX_ANSWER_BYTES = 64 * 1024;

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the webhook's secret>` (README "Audit events"). */
export function signatureHeader(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}

/** Seconds before attempt `attempts + 1`: the base doubled per attempt made, capped, with the upper half jittered. */
export function backoffSeconds(base: number, attempts: number, random = Math.random()): number {
  const full = Math.min(MAX_BACKOFF_SECONDS, base * 2 ** Math.max(0, attempts - 1));
  return full / 2 + (full / 2) * random;
}

@Injectable()
export class AuditWebhooksService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly hooks = new Map<string, AuditWebhook>();
  private readonly fetcher: SafeFetcher;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;

  constructor(
    private readonly outbox: AuditEventsRepository,
    private readonly audit: AuditService,
    private readonly config: ConfigService,
    private readonly logger: AppLogger,
  ) {
    for (const hook of config.get('audit.webhooks')) this.hooks.set(webhookId(hook.url), hook);
    const caFile = config.get('fetch.ca_file');
    // A fetcher of its own: deliveries never take the slots registrations need for their fetches.
    this.fetcher = new SafeFetcher({
      timeoutMs: config.get('fetch.timeout') * 1000,
      maxBytes: MAX_ANSWER_BYTES,
      allowPrivateNetworks: config.get('fetch.allow_private_networks'),
      ca: caFile ? readFileSync(caFile, 'utf8') : undefined,
    });
  }

  onApplicationBootstrap(): void {
    if (this.hooks.size === 0) return;
    this.audit.onQueued(() => this.kick());
    this.timer = setInterval(() => this.kick(), this.config.get('audit.delivery.interval') * 1000).unref();
    // Deliveries left pending by a previous run (or another instance) are due too.
    this.kick();
  }

  /** Stops before the database closes; a delivery cut short is taken up again after its lease. */
  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }

  /** Runs a round now, or right after the current one. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.drain()
      .catch((err: Error) => this.logger.warn({ error: err.message }, 'audit webhook deliveries could not be read'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Delivers what is due, batch after batch; resolves when no claimed row is left. */
  async drain(): Promise<void> {
    // Longer than any one attempt, so a claim is never taken up while its attempt may still succeed.
    const lease = this.config.get('fetch.timeout') + 30;
    while (!this.stopped) {
      const claimed = await this.outbox.claimDue(BATCH, lease);
      await Promise.all(claimed.map((claim) => this.deliver(claim)));
      if (claimed.length < BATCH) return;
    }
  }

  private async deliver(claim: ClaimedDelivery): Promise<void> {
    const hook = this.hooks.get(claim.webhookId);
    if (!hook) {
      await this.outbox.markFailed(claim, 'no configured webhook has this id any more');
      this.logger.warn({ webhook_id: claim.webhookId, event_id: claim.eventId }, 'audit webhook delivery dropped: the webhook is no longer configured');
      return;
    }
    let error: string;
    try {
      const answer = await this.fetcher.post(
        hook.url,
        claim.body,
        {
          'content-type': 'application/json',
          'registrar-event-id': claim.eventId,
          'registrar-signature': signatureHeader(hook.secret, claim.body, Math.floor(Date.now() / 1000)),
        },
        MAX_ANSWER_BYTES,
      );
      if (answer.status >= 200 && answer.status < 300) {
        await this.outbox.markDelivered(claim);
        return;
      }
      error = `the receiver answered HTTP ${answer.status}`;
    } catch (err) {
      error = withoutUrl((err as Error).message, hook.url);
    }
    const context = { webhook_id: claim.webhookId, event_id: claim.eventId, attempts: claim.attempts, error };
    const maxAge = this.config.get('audit.delivery.max_age') * 1000;
    if (claim.attempts >= this.config.get('audit.delivery.max_attempts') || Date.now() - claim.createdAt.getTime() >= maxAge) {
      await this.outbox.markFailed(claim, error);
      this.logger.warn(context, 'audit webhook delivery failed for good');
      return;
    }
    await this.outbox.retryLater(claim, backoffSeconds(this.config.get('audit.delivery.backoff'), claim.attempts), error);
    this.logger.info(context, 'audit webhook delivery failed; retrying later');
  }
}

/** A webhook URL may carry the receiver's token: fetch errors name it, so it is cut out. */
function withoutUrl(message: string, url: string): string {
  let out = message.split(url).join('<webhook url>');
  try {
    out = out.split(new URL(url).toString()).join('<webhook url>');
  } catch {
    // the URL was checked at start
  }
  return out.slice(0, 500);
}
