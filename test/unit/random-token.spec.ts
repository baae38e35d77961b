import { describe, expect, it } from '@jest/globals';
import { randomToken } from '../../src/common/secrets.js';

const decoded = (token: string) => Buffer.from(token, 'base64url');

describe('randomToken', () => {
  it('gives 256 random bits by default, never the same value twice, over many batches of the random pool', () => {
    const tokens = Array.from({ length: 1000 }, () => randomToken());
    expect(new Set(tokens).size).toBe(tokens.length);
    for (const token of tokens) {
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(decoded(token)).toHaveLength(32);
    }
    // Bytes handed out are zeroed in the pool: a token read after its bytes were cleared, or from a
    // cleared region, would be mostly zero bytes. Random bytes are zero about once in 256.
    const zeros = tokens.reduce((n, token) => n + decoded(token).filter((b) => b === 0).length, 0);
    expect(zeros).toBeLessThan(300);
  });

  it('gives exactly the bytes asked for, also when a request does not fit in what is left of a batch or in a whole one', () => {
    for (const bytes of [1, 16, 100, 1000, 4096, 5000]) {
      const values = Array.from({ length: 20 }, () => decoded(randomToken(bytes)));
      for (const value of values) expect(value).toHaveLength(bytes);
      // Twenty values of one byte may well repeat; from 16 bytes on, a repeat means bytes were handed out twice.
      if (bytes < 16) continue;
      expect(new Set(values.map((v) => v.toString('hex'))).size).toBe(values.length);
      for (const value of values) expect(value.filter((b) => b === 0).length).toBeLessThan(bytes / 8 + 4);
    }
  });
});
