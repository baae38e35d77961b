// Group commit in the application (README "Performance"): the writes that
// concurrent requests submit within one event-loop turn go to PostgreSQL as one
// statement, so N requests cost one round trip and one WAL flush instead of N.
// Each request is answered with its own row's outcome, after that statement
// has committed; a failure of one row answers only its own request.
import { AsyncResource } from 'node:async_hooks';
import { context, type Context } from '@opentelemetry/api';

/** What one submitted item came to: its result, or the error that answers only its request. */
export type Outcome<O> = { ok: true; value: O } | { ok: false; error: unknown };

/** Writes a batch and tells each item's outcome, in order; throwing fails the batch as a whole. */
export type BatchWriter<I, O> = (items: readonly I[]) => Promise<Array<Outcome<O>>>;

interface Waiting<I, O> {
  item: I;
  /** The submitter's trace context (README "Tracing"). */
  trace: Context;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

/** No batch is larger than this: it bounds one statement's size and the wait of the last item in it. */
export const MAX_BATCH = 256;

export class GroupCommit<I, O> {
  private queue: Array<Waiting<I, O>> = [];
  private scheduled = false;
  private inFlight = 0;
  /**
   * Batches run in the async context this object was made in, not in that of
   * the request that happened to arrive first (its transaction); only its trace context is carried over.
   */
  private readonly scope = new AsyncResource('GroupCommit');

  /**
   * `write` takes a batch in one statement (or transaction). When it throws,
   * each item is written again alone, so that a row that cannot be written (a
   * client deleted meanwhile, a unique violation) fails only its own request.
   * At most `maxInFlight` batches are written at once: what arrives meanwhile
   * waits and goes as the next batch, so batches grow with the load, and the
   * commits they cost do not.
   */
  constructor(
    private readonly write: BatchWriter<I, O>,
    private readonly maxInFlight = 1,
  ) {}

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, trace: context.active(), resolve, reject });
      this.schedule();
    });
  }

  /** Everything submitted before the event loop's next check phase joins the batch then started. */
  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() =>
      this.scope.runInAsyncScope(() => {
        this.scheduled = false;
        this.flush();
      }),
    );
  }

  private flush(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      this.inFlight += 1;
      void this.settle(batch)
        // Only a writer that breaks its contract gets here: nobody is left waiting.
        .catch((err: unknown) => batch.forEach((waiting) => waiting.reject(err)))
        .finally(() => {
          this.inFlight -= 1;
          this.schedule();
        });
    }
  }

  /**
   * The batch's statements are traced as part of its first request's trace
   * (only the trace context is taken from it; nothing else of its async context).
   */
  private settle(batch: Array<Waiting<I, O>>): Promise<void> {
    return context.with(batch[0].trace, () => this.settleBatch(batch));
  }

  private async settleBatch(batch: Array<Waiting<I, O>>): Promise<void> {
    let outcomes: Array<Outcome<O>>;
    try {
      outcomes = await this.write(batch.map((w) => w.item));
    } catch (err) {
      if (batch.length === 1) {
        batch[0].reject(err);
        return;
      }
      outcomes = [];
      for (const waiting of batch) {
        outcomes.push(
          await this.write([waiting.item]).then(
            ([outcome]) => outcome,
            (error: unknown) => ({ ok: false as const, error }),
          ),
        );
      }
    }
    batch.forEach((waiting, i) => {
      const outcome = outcomes[i];
      if (outcome.ok) waiting.resolve(outcome.value);
      else waiting.reject(outcome.error);
    });
  }
}
