import { describe, expect, it } from '@jest/globals';
import { applyJsonPatch } from '../../src/clients/json-patch.js';
import { OAuthError } from '../../src/common/oauth-error.js';

type Doc = Record<string, unknown>;

function sample(): Doc {
  return {
    client_name: 'demo',
    redirect_uris: ['https://a.example.com/cb', 'https://b.example.com/cb'],
    metadata: { team: 'blue', tags: ['x', 'y'], nested: { deep: 1 } },
    'a/b': 'slash',
    'm~n': 'tilde',
    empty: null,
  };
}

/** Applies the patch, which must fail with invalid_request, and returns the error. */
function refusal(document: unknown, operations: unknown): OAuthError {
  let thrown: unknown;
  try {
    applyJsonPatch(document, operations);
  } catch (error) {
    thrown = error;
  }
  if (thrown === undefined) throw new Error('expected an OAuthError, but the patch was applied');
  expect(thrown).toBeInstanceOf(OAuthError);
  expect((thrown as OAuthError).code).toBe('invalid_request');
  return thrown as OAuthError;
}

describe('applyJsonPatch: add (RFC 6902 §4.1)', () => {
  it('adds a new object member', () => {
    const out = applyJsonPatch(sample(), [{ op: 'add', path: '/owner', value: 'team-a' }]);
    expect(out.owner).toBe('team-a');
    expect(out.client_name).toBe('demo');
  });

  it('replaces the value of an existing object member', () => {
    const out = applyJsonPatch(sample(), [{ op: 'add', path: '/client_name', value: 'renamed' }]);
    expect(out.client_name).toBe('renamed');
  });

  it('adds a member to a nested object', () => {
    const out = applyJsonPatch(sample(), [{ op: 'add', path: '/metadata/colour', value: { r: 1 } }]);
    expect(out.metadata).toEqual({ team: 'blue', tags: ['x', 'y'], nested: { deep: 1 }, colour: { r: 1 } });
  });

  it('inserts into an array at an index, shifting later elements', () => {
    const out = applyJsonPatch(sample(), [{ op: 'add', path: '/redirect_uris/1', value: 'https:/mid' }]);
    expect(out.redirect_uris).toEqual(['https://a.example.com/cb', 'https:/mid', 'https://b.example.com/cb']);
  });

  it('inserts at index 0 and at the index equal to the length', () => {
    const out = applyJsonPatch({ list: ['b'] }, [
      { op: 'add', path: '/list/0', value: 'a' },
      { op: 'add', path: '/list/2', value: 'c' },
    ]);
    expect(out.list).toEqual(['a', 'b', 'c']);
  });

  it('appends to an array with the "-" index', () => {
    const out = applyJsonPatch(sample(), [{ op: 'add', path: '/redirect_uris/-', value: 'https://c.example.com/cb' }]);
    expect(out.redirect_uris).toEqual(['https://a.example.com/cb', 'https://b.example.com/cb', 'https://c.example.com/cb']);
  });

  it('adds an array value as a single element (RFC 6902 A.16)', () => {
    const out = applyJsonPatch({ foo: ['bar'] }, [{ op: 'add', path: '/foo/1', value: ['abc', 'def'] }]);
    expect(out).toEqual({ foo: ['bar', ['abc', 'def']] });
  });

  it('replaces the whole document when the path is empty', () => {
    const out = applyJsonPatch(sample(), [{ op: 'add', path: '', value: { fresh: true } }]);
    expect(out).toEqual({ fresh: true });
  });

  it('adds the member whose name is the empty string for the path "/"', () => {
    const out = applyJsonPatch({ a: 1 }, [{ op: 'add', path: '/', value: 2 }]);
    expect(out).toEqual({ a: 1, '': 2 });
  });

  it('accepts null as a value', () => {
    const out = applyJsonPatch({ a: 1 }, [{ op: 'add', path: '/b', value: null }]);
    expect(out).toEqual({ a: 1, b: null });
  });

  it('refuses a path whose parent does not exist (RFC 6902 A.12)', () => {
    refusal(sample(), [{ op: 'add', path: '/nope/child', value: 1 }]);
  });

  it('refuses an array index beyond the length', () => {
    refusal(sample(), [{ op: 'add', path: '/redirect_uris/3', value: 'x' }]);
  });

  it('refuses an array index that is not a number or has a leading zero', () => {
    refusal(sample(), [{ op: 'add', path: '/redirect_uris/one', value: 'x' }]);
    refusal(sample(), [{ op: 'add', path: '/redirect_uris/01', value: 'x' }]);
    refusal(sample(), [{ op: 'add', path: '/redirect_uris/-1', value: 'x' }]);
  });

  it('creates an own member named __proto__ and never changes the prototype of the result', () => {
    const out = applyJsonPatch<Doc>({ a: 1 }, [{ op: 'add', path: '/__proto__', value: { polluted: true } }]);
    // (The prototype is compared by content: structuredClone hands back objects of another realm under Jest.)
    expect('polluted' in out).toBe(false);
    expect(out.polluted).toBeUndefined();
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
  });
});

describe('applyJsonPatch: remove (RFC 6902 §4.2)', () => {
  it('removes an object member', () => {
    const out = applyJsonPatch(sample(), [{ op: 'remove', path: '/client_name' }]);
    expect(out).not.toHaveProperty('client_name');
    expect(out.metadata).toBeDefined();
  });

  it('removes a nested member', () => {
    const out = applyJsonPatch(sample(), [{ op: 'remove', path: '/metadata/nested/deep' }]);
    expect(out.metadata).toEqual({ team: 'blue', tags: ['x', 'y'], nested: {} });
  });

  it('removes an array element and shifts the rest left', () => {
    const out = applyJsonPatch({ list: ['a', 'b', 'c'] }, [{ op: 'remove', path: '/list/1' }]);
    expect(out.list).toEqual(['a', 'c']);
  });

  it('removes a member whose value is null', () => {
    const out = applyJsonPatch(sample(), [{ op: 'remove', path: '/empty' }]);
    expect(out).not.toHaveProperty('empty');
  });

  it('refuses to remove a member that does not exist', () => {
    refusal(sample(), [{ op: 'remove', path: '/nope' }]);
  });

  it('refuses to remove an inherited property', () => {
    refusal({ a: 1 }, [{ op: 'remove', path: '/toString' }]);
  });

  it('refuses an array index equal to or beyond the length', () => {
    refusal({ list: ['a', 'b'] }, [{ op: 'remove', path: '/list/2' }]);
    refusal({ list: ['a', 'b'] }, [{ op: 'remove', path: '/list/9' }]);
  });

  it('refuses the "-" index, which names no element', () => {
    refusal({ list: ['a', 'b'] }, [{ op: 'remove', path: '/list/-' }]);
  });
});

describe('applyJsonPatch: replace (RFC 6902 §4.3)', () => {
  it('replaces an object member', () => {
    const out = applyJsonPatch(sample(), [{ op: 'replace', path: '/client_name', value: 'other' }]);
    expect(out.client_name).toBe('other');
  });

  it('replaces an array element in place', () => {
    const out = applyJsonPatch({ list: ['a', 'b', 'c'] }, [{ op: 'replace', path: '/list/1', value: 'B' }]);
    expect(out.list).toEqual(['a', 'B', 'c']);
  });

  it('replaces a member with a value of another type', () => {
    const out = applyJsonPatch(sample(), [{ op: 'replace', path: '/metadata', value: ['now', 'a', 'list'] }]);
    expect(out.metadata).toEqual(['now', 'a', 'list']);
  });

  it('replaces the whole document when the path is empty', () => {
    const out = applyJsonPatch(sample(), [{ op: 'replace', path: '', value: { only: 1 } }]);
    expect(out).toEqual({ only: 1 });
  });

  it('refuses to replace a member that does not exist', () => {
    refusal(sample(), [{ op: 'replace', path: '/nope', value: 1 }]);
  });

  it('refuses an array index out of range', () => {
    refusal({ list: ['a'] }, [{ op: 'replace', path: '/list/1', value: 'b' }]);
  });
});

describe('applyJsonPatch: move (RFC 6902 §4.4)', () => {
  it('moves an object member to a new name', () => {
    const out = applyJsonPatch(sample(), [{ op: 'move', from: '/client_name', path: '/owner' }]);
    expect(out.owner).toBe('demo');
    expect(out).not.toHaveProperty('client_name');
  });

  it('moves a member into another object', () => {
    const out = applyJsonPatch(sample(), [{ op: 'move', from: '/client_name', path: '/metadata/name' }]);
    expect((out.metadata as Doc).name).toBe('demo');
    expect(out).not.toHaveProperty('client_name');
  });

  it('moves an array element (RFC 6902 A.7)', () => {
    const out = applyJsonPatch({ foo: ['all', 'grass', 'cows', 'eat'] }, [{ op: 'move', from: '/foo/1', path: '/foo/3' }]);
    expect(out).toEqual({ foo: ['all', 'cows', 'eat', 'grass'] });
  });

  it('moves a location to a sibling whose name starts with the same characters', () => {
    const out = applyJsonPatch({ a: 1 }, [{ op: 'move', from: '/a', path: '/ab' }]);
    expect(out).toEqual({ ab: 1 });
  });

  it('leaves the document unchanged when from equals path', () => {
    const out = applyJsonPatch({ a: 1, b: 2 }, [{ op: 'move', from: '/a', path: '/a' }]);
    expect(out).toEqual({ a: 1, b: 2 });
  });

  it('refuses to move a location into one of its own children', () => {
    refusal(sample(), [{ op: 'move', from: '/metadata', path: '/metadata/nested/copy' }]);
    refusal(sample(), [{ op: 'move', from: '/metadata', path: '/metadata/x' }]);
  });

  it('refuses a from location that does not exist', () => {
    refusal(sample(), [{ op: 'move', from: '/nope', path: '/x' }]);
  });

  it('refuses a move without from', () => {
    refusal(sample(), [{ op: 'move', path: '/x' }]);
  });
});

describe('applyJsonPatch: copy (RFC 6902 §4.5)', () => {
  it('copies a value and keeps the original', () => {
    const out = applyJsonPatch(sample(), [{ op: 'copy', from: '/client_name', path: '/owner' }]);
    expect(out.owner).toBe('demo');
    expect(out.client_name).toBe('demo');
  });

  it('copies into an array position', () => {
    const out = applyJsonPatch(sample(), [{ op: 'copy', from: '/redirect_uris/0', path: '/redirect_uris/-' }]);
    expect(out.redirect_uris).toEqual(['https://a.example.com/cb', 'https://b.example.com/cb', 'https://a.example.com/cb']);
  });

  it('makes a deep copy, so a later change to the copy leaves the source alone', () => {
    const out = applyJsonPatch(sample(), [
      { op: 'copy', from: '/metadata', path: '/metadata_copy' },
      { op: 'add', path: '/metadata_copy/tags/-', value: 'z' },
      { op: 'replace', path: '/metadata_copy/nested/deep', value: 2 },
    ]);
    expect(out.metadata).toEqual({ team: 'blue', tags: ['x', 'y'], nested: { deep: 1 } });
    expect(out.metadata_copy).toEqual({ team: 'blue', tags: ['x', 'y', 'z'], nested: { deep: 2 } });
  });

  it('refuses a from location that does not exist', () => {
    refusal(sample(), [{ op: 'copy', from: '/nope', path: '/x' }]);
  });

  it('refuses a copy without from', () => {
    refusal(sample(), [{ op: 'copy', path: '/x' }]);
  });
});

describe('applyJsonPatch: test (RFC 6902 §4.6)', () => {
  it('passes when a string value is equal', () => {
    const out = applyJsonPatch(sample(), [
      { op: 'test', path: '/client_name', value: 'demo' },
      { op: 'replace', path: '/client_name', value: 'after-test' },
    ]);
    expect(out.client_name).toBe('after-test');
  });

  it('compares objects deeply, ignoring member order', () => {
    const out = applyJsonPatch(sample(), [
      { op: 'test', path: '/metadata', value: { nested: { deep: 1 }, tags: ['x', 'y'], team: 'blue' } },
      { op: 'add', path: '/tested', value: true },
    ]);
    expect(out.tested).toBe(true);
  });

  it('compares arrays element by element', () => {
    const out = applyJsonPatch(sample(), [
      { op: 'test', path: '/redirect_uris', value: ['https://a.example.com/cb', 'https://b.example.com/cb'] },
      { op: 'add', path: '/tested', value: true },
    ]);
    expect(out.tested).toBe(true);
  });

  it('passes for null and for the whole document', () => {
    const out = applyJsonPatch({ a: null }, [
      { op: 'test', path: '/a', value: null },
      { op: 'test', path: '', value: { a: null } },
    ]);
    expect(out).toEqual({ a: null });
  });

  it('fails when a value differs', () => {
    refusal(sample(), [{ op: 'test', path: '/client_name', value: 'other' }]);
  });

  it('fails when arrays differ in order or length', () => {
    refusal(sample(), [{ op: 'test', path: '/redirect_uris', value: ['https://b.example.com/cb', 'https://a.example.com/cb'] }]);
    refusal(sample(), [{ op: 'test', path: '/redirect_uris', value: ['https://a.example.com/cb'] }]);
  });

  it('fails when an object has an extra or a missing member, or a differing nested value', () => {
    refusal(sample(), [{ op: 'test', path: '/metadata/nested', value: { deep: 1, extra: 2 } }]);
    refusal(sample(), [{ op: 'test', path: '/metadata/nested', value: {} }]);
    refusal(sample(), [{ op: 'test', path: '/metadata/nested', value: { deep: 2 } }]);
  });

  it('fails when the types differ (string "1" vs number 1, array vs object, null vs object)', () => {
    refusal({ a: 1 }, [{ op: 'test', path: '/a', value: '1' }]);
    refusal({ a: ['x'] }, [{ op: 'test', path: '/a', value: { 0: 'x' } }]);
    refusal({ a: null }, [{ op: 'test', path: '/a', value: {} }]);
  });

  it('fails when the location does not exist', () => {
    refusal(sample(), [{ op: 'test', path: '/nope', value: null }]);
  });

  it('carries a description that names the failed test', () => {
    const error = refusal(sample(), [{ op: 'test', path: '/client_name', value: 'other' }]);
    expect(error.description).toContain('/client_name');
  });
});

describe('applyJsonPatch: JSON Pointer escaping (RFC 6901)', () => {
  it('reads ~1 as "/"', () => {
    const out = applyJsonPatch(sample(), [
      { op: 'test', path: '/a~1b', value: 'slash' },
      { op: 'replace', path: '/a~1b', value: 'changed' },
    ]);
    expect(out['a/b']).toBe('changed');
  });

  it('reads ~0 as "~"', () => {
    const out = applyJsonPatch(sample(), [{ op: 'remove', path: '/m~0n' }]);
    expect(out).not.toHaveProperty(['m~n']);
    expect(out['a/b']).toBe('slash');
  });

  it('decodes ~01 as the literal "~1", not as "/"', () => {
    const out = applyJsonPatch({}, [{ op: 'add', path: '/x~01y', value: 1 }]);
    expect(out).toEqual({ 'x~1y': 1 });
  });

  it('uses escaped names in from as well', () => {
    const out = applyJsonPatch(sample(), [{ op: 'move', from: '/a~1b', path: '/c~0d' }]);
    expect(out['c~d']).toBe('slash');
    expect(out).not.toHaveProperty(['a/b']);
  });

  it('refuses a pointer that does not start with "/"', () => {
    refusal(sample(), [{ op: 'add', path: 'client_name', value: 'x' }]);
  });
});

describe('applyJsonPatch: malformed patches', () => {
  it('refuses a body that is not an array', () => {
    refusal(sample(), { op: 'add', path: '/a', value: 1 });
    refusal(sample(), null);
    refusal(sample(), 'add /a 1');
    refusal(sample(), undefined);
  });

  it('refuses an operation that is not an object', () => {
    refusal(sample(), [1]);
    refusal(sample(), [null]);
    refusal(sample(), [['add', '/a', 1]]);
  });

  it('refuses an unknown op', () => {
    refusal(sample(), [{ op: 'merge', path: '/a', value: 1 }]);
    refusal(sample(), [{ op: 'ADD', path: '/a', value: 1 }]);
  });

  it('refuses an operation without op', () => {
    refusal(sample(), [{ path: '/a', value: 1 }]);
  });

  it('refuses add, replace and test without a value', () => {
    refusal(sample(), [{ op: 'add', path: '/a' }]);
    refusal(sample(), [{ op: 'replace', path: '/client_name' }]);
    refusal(sample(), [{ op: 'test', path: '/client_name' }]);
  });

  it('refuses add, remove, replace and test without a path', () => {
    refusal(sample(), [{ op: 'add', value: 1 }]);
    refusal(sample(), [{ op: 'remove' }]);
    refusal(sample(), [{ op: 'replace', value: 1 }]);
    refusal(sample(), [{ op: 'test', value: 'demo' }]);
  });

  it('refuses copy without a path', () => {
    refusal(sample(), [{ op: 'copy', from: '/client_name' }]);
  });

  it('refuses move without a path or with a path that is not a string', () => {
    refusal(sample(), [{ op: 'move', from: '/client_name' }]);
    refusal(sample(), [{ op: 'move', from: '/client_name', path: 5 }]);
  });

  it('refuses a path that is not a string', () => {
    refusal(sample(), [{ op: 'add', path: 5, value: 1 }]);
    refusal(sample(), [{ op: 'remove', path: ['client_name'] }]);
    refusal(sample(), [{ op: 'copy', from: '/client_name', path: 5 }]);
    refusal(sample(), [{ op: 'copy', from: 5, path: '/x' }]);
    refusal(sample(), [{ op: 'move', from: 5, path: '/x' }]);
  });

  it('refuses more than 100 operations', () => {
    const ops = Array.from({ length: 101 }, (_, i) => ({ op: 'add', path: `/k${i}`, value: i }));
    refusal({}, ops);
    expect(Object.keys(applyJsonPatch<Doc>({}, ops.slice(0, 100)))).toHaveLength(100);
  });

  it('accepts an empty patch and returns an equal document', () => {
    expect(applyJsonPatch(sample(), [])).toEqual(sample());
  });
});

describe('applyJsonPatch: atomicity and immutability', () => {
  it('never modifies the input document when the patch succeeds', () => {
    const input = sample();
    const out = applyJsonPatch(input, [
      { op: 'add', path: '/metadata/tags/-', value: 'z' },
      { op: 'remove', path: '/redirect_uris/0' },
      { op: 'replace', path: '/metadata/nested/deep', value: 99 },
      { op: 'move', from: '/client_name', path: '/name' },
    ]);
    expect(input).toEqual(sample());
    expect(out).not.toBe(input);
    expect(out.metadata).not.toBe(input.metadata);
  });

  it('never modifies the input document when a later operation fails', () => {
    const input = sample();
    refusal(input, [
      { op: 'add', path: '/owner', value: 'x' },
      { op: 'remove', path: '/redirect_uris/0' },
      { op: 'replace', path: '/metadata/nested/deep', value: 99 },
      { op: 'test', path: '/client_name', value: 'not-demo' },
    ]);
    expect(input).toEqual(sample());
  });

  it('does not share the added value with the result', () => {
    const value = { list: [1] };
    const out = applyJsonPatch<Doc>({}, [{ op: 'add', path: '/v', value }]);
    value.list.push(2);
    expect(out.v).toEqual({ list: [1] });
  });

  it('applies operations in order, each seeing the result of the previous ones', () => {
    const out = applyJsonPatch<Doc>({}, [
      { op: 'add', path: '/a', value: { b: [] } },
      { op: 'add', path: '/a/b/-', value: 1 },
      { op: 'copy', from: '/a/b/0', path: '/c' },
      { op: 'test', path: '/c', value: 1 },
    ]);
    expect(out).toEqual({ a: { b: [1] }, c: 1 });
  });
});
