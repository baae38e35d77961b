// GroupCommit: which submissions share a batch, and how one item's failure is kept to its own caller.
import { AsyncLocalStorage } from 'node:async_hooks';
import { describe, expect, it } from '@jest/globals';
import { GroupCommit, MAX_BATCH, type Outcome } from '../../src/database/group-commit.js';

/** A writer that records each batch it gets and fails any batch holding a "bad" item. */
function recordingWriter(): { batches: string[][]; write: (items: readonly string[]) => Promise<Array<Outcome<string>>> } {
  const batches: string[][] = [];
  return {
    batches,
    write: async (items) => {
      batches.push([...items]);
      await Promise.resolve();
      if (items.includes('bad')) throw new Error('row refused: bad');
      return items.map((item) => ({ ok: true, value: item.toUpperCase() }));
    },
  };
}

describe('GroupCommit', () => {
  it('writes everything submitted within one event-loop turn as one batch, and later submissions as the next', async () => {
    const writer = recordingWriter();
    const commit = new GroupCommit(writer.write);
    const first = ['a', 'b', 'c'].map((item) => commit.submit(item));
    await expect(Promise.all(first)).resolves.toEqual(['A', 'B', 'C']);
    await expect(commit.submit('d')).resolves.toBe('D');
    expect(writer.batches).toEqual([['a', 'b', 'c'], ['d']]);
  });

  it('while a batch is being written, gathers what arrives meanwhile, over many turns, into the next one', async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const firstHeld = new Promise<void>((resolve) => (release = resolve));
    const commit = new GroupCommit<number, number>(async (items) => {
      batches.push([...items]);
      if (batches.length === 1) await firstHeld;
      return items.map((n) => ({ ok: true, value: n }));
    });
    const first = commit.submit(0);
    await new Promise((r) => setImmediate(r));
    const later: Array<Promise<number>> = [];
    for (let turn = 1; turn <= 3; turn++) {
      later.push(commit.submit(turn));
      await new Promise((r) => setImmediate(r));
    }
    expect(batches).toEqual([[0]]);
    release();
    await expect(Promise.all([first, ...later])).resolves.toEqual([0, 1, 2, 3]);
    expect(batches).toEqual([[0], [1, 2, 3]]);
  });

  it('writes up to maxInFlight batches at once', async () => {
    let writing = 0;
    let most = 0;
    const commit = new GroupCommit<number, number>(async (items) => {
      writing += 1;
      most = Math.max(most, writing);
      await new Promise((r) => setTimeout(r, 5));
      writing -= 1;
      return items.map((n) => ({ ok: true, value: n }));
    }, 2);
    await Promise.all(Array.from({ length: MAX_BATCH * 3 }, (_, i) => commit.submit(i)));
    expect(most).toBe(2);
  });

  it(`never puts more than ${MAX_BATCH} items in one batch`, async () => {
    const writer = recordingWriter();
    const commit = new GroupCommit(writer.write);
    const items = Array.from({ length: MAX_BATCH + 3 }, (_, i) => `item${i}`);
    await Promise.all(items.map((item) => commit.submit(item)));
    expect(writer.batches.map((b) => b.length)).toEqual([MAX_BATCH, 3]);
    expect(writer.batches.flat()).toEqual(items);
  });

  it('when a batch fails, writes each item alone, so only the failing item is refused', async () => {
    const writer = recordingWriter();
    const commit = new GroupCommit(writer.write);
    const results = await Promise.allSettled(['a', 'bad', 'c'].map((item) => commit.submit(item)));
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual(['A', 'row refused: bad', 'C']);
    expect(writer.batches).toEqual([['a', 'bad', 'c'], ['a'], ['bad'], ['c']]);
  });

  it('answers each item with its own outcome when the writer refuses some rows without failing the batch', async () => {
    const commit = new GroupCommit<number, number>(async (items) =>
      items.map((n) => (n % 2 === 0 ? { ok: true, value: n * 10 } : { ok: false, error: new Error(`odd ${n}`) })),
    );
    const results = await Promise.allSettled([1, 2, 3, 4].map((n) => commit.submit(n)));
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual(['odd 1', 20, 'odd 3', 40]);
  });

  it('runs a batch outside the async context of whichever caller came first (its transaction)', async () => {
    const context = new AsyncLocalStorage<string>();
    const seen: Array<string | undefined> = [];
    const commit = new GroupCommit<string, void>(async (items) => {
      seen.push(context.getStore());
      return items.map(() => ({ ok: true, value: undefined }));
    });
    await context.run('request 1', () => commit.submit('x'));
    await Promise.all(Array.from({ length: MAX_BATCH }, (_, i) => context.run(`request ${i}`, () => commit.submit(`y${i}`))));
    expect(seen).toEqual([undefined, undefined]);
  });
});
