import { describe, expect, it } from '@jest/globals';
import { SecretVerifier, hashClientSecret } from '../../src/common/secrets.js';

describe('SecretVerifier', () => {
  it('accepts the right secret and refuses wrong ones, before and after the first success', async () => {
    const stored = await hashClientSecret('operator-chosen', false);
    const verifier = new SecretVerifier();
    expect(await verifier.verify('wrong', stored)).toBe(false);
    expect(await verifier.verify('operator-chosen', stored)).toBe(true);
    expect(await verifier.verify('operator-chosen', stored)).toBe(true);
    expect(await verifier.verify('operator-chosen ', stored)).toBe(false);
    expect(await verifier.verify('', stored)).toBe(false);
  });

  it('refuses wrong secrets without scrypt once the right one has matched', async () => {
    const stored = await hashClientSecret('operator-chosen', false);
    const verifier = new SecretVerifier(1);
    await verifier.verify('operator-chosen', stored);
    // The one scrypt slot is taken by another client's verification; guesses that needed scrypt
    // would queue behind it, while guesses answered by HMAC all finish before it does.
    const other = await hashClientSecret('another-secret', false);
    const order: string[] = [];
    const scryptRun = verifier.verify('another-secret', other).then((ok) => order.push(`scrypt:${ok}`));
    const guesses = Array.from({ length: 50 }, (_, i) => verifier.verify(`guess-${i}`, stored).then((ok) => order.push(`guess:${ok}`)));
    await Promise.all([scryptRun, ...guesses]);
    expect(order).toEqual([...Array(50).fill('guess:false'), 'scrypt:true']);
  });

  it('runs at most `concurrency` scrypt verifications at once, and every caller gets its answer', async () => {
    const stored = await hashClientSecret('operator-chosen', false);
    const verifier = new SecretVerifier(1);
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => verifier.verify(i === 5 ? 'operator-chosen' : `no-${i}`, stored)));
    expect(results).toEqual([false, false, false, false, false, true]);
  });

  it('verifies generated (SHA-256) secrets directly', async () => {
    const stored = await hashClientSecret('generated-secret-with-256-bits', true);
    const verifier = new SecretVerifier();
    expect(await verifier.verify('generated-secret-with-256-bits', stored)).toBe(true);
    expect(await verifier.verify('other', stored)).toBe(false);
  });
});
