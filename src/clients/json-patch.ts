// RFC 6902 JSON Patch over plain JSON values. Returns a new document; the input
// is never modified, so a failed patch leaves nothing half-applied.
import { OAuthError } from '../common/oauth-error.js';

export interface PatchOperation {
  op: string;
  path: string;
  from?: string;
  value?: unknown;
}

const MAX_OPERATIONS = 100;

function bad(message: string): never {
  throw new OAuthError('invalid_request', `JSON Patch: ${message}`);
}

/** RFC 6901 pointer to reference tokens. */
function parsePointer(pointer: unknown): string[] {
  if (typeof pointer !== 'string' || (pointer !== '' && !pointer.startsWith('/'))) bad(`invalid pointer ${JSON.stringify(pointer)}`);
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

type Container = Record<string, unknown> | unknown[];

function isContainer(v: unknown): v is Container {
  return v !== null && typeof v === 'object';
}

function arrayIndex(arr: unknown[], token: string, forInsert: boolean, pointer: string): number {
  if (forInsert && token === '-') return arr.length;
  if (!/^(0|[1-9]\d*)$/.test(token)) bad(`${pointer}: "${token}" is not an array index`);
  const i = Number(token);
  if (i > arr.length || (!forInsert && i === arr.length)) bad(`${pointer}: index ${i} is out of range`);
  return i;
}

/** The parent container and last token of a pointer that names an existing parent. */
function locate(doc: unknown, tokens: string[], pointer: string): { parent: Container; key: string } {
  let node = doc;
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(node)) node = node[arrayIndex(node, token, false, pointer)];
    else if (isContainer(node) && Object.hasOwn(node, token)) node = (node as Record<string, unknown>)[token];
    else bad(`${pointer} does not exist`);
  }
  if (!isContainer(node)) bad(`${pointer} does not exist`);
  return { parent: node, key: tokens[tokens.length - 1] };
}

function get(doc: unknown, pointer: string): unknown {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return doc;
  const { parent, key } = locate(doc, tokens, pointer);
  if (Array.isArray(parent)) return parent[arrayIndex(parent, key, false, pointer)];
  if (!Object.hasOwn(parent, key)) bad(`${pointer} does not exist`);
  return parent[key];
}

function remove(doc: unknown, pointer: string): unknown {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) bad('cannot remove the whole document');
  const { parent, key } = locate(doc, tokens, pointer);
  if (Array.isArray(parent)) return parent.splice(arrayIndex(parent, key, false, pointer), 1)[0];
  if (!Object.hasOwn(parent, key)) bad(`${pointer} does not exist`);
  const value = parent[key];
  delete parent[key];
  return value;
}

function add(doc: unknown, pointer: string, value: unknown): unknown {
  const tokens = parsePointer(pointer);
  if (tokens.length === 0) return value;
  const { parent, key } = locate(doc, tokens, pointer);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, true, pointer), 0, value);
  // defineProperty, not assignment: a member named "__proto__" must become a member, not a prototype.
  else Object.defineProperty(parent, key, { value, writable: true, enumerable: true, configurable: true });
  return doc;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (!isContainer(a) || !isContainer(b) || Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && deepEqual((a as never)[k], (b as never)[k]));
}

export function applyJsonPatch<T>(document: T, operations: unknown): T {
  if (!Array.isArray(operations)) bad('the body must be an array of operations');
  if (operations.length > MAX_OPERATIONS) bad(`at most ${MAX_OPERATIONS} operations are accepted`);
  let doc: unknown = structuredClone(document);
  operations.forEach((raw: unknown, i) => {
    if (!isContainer(raw) || Array.isArray(raw)) bad(`operation ${i} must be an object`);
    const op = raw as unknown as PatchOperation;
    const needsValue = op.op === 'add' || op.op === 'replace' || op.op === 'test';
    if (needsValue && !Object.hasOwn(op, 'value')) bad(`operation ${i} (${op.op}) needs a value`);
    parsePointer(op.path);
    switch (op.op) {
      case 'add':
        doc = add(doc, op.path, structuredClone(op.value));
        break;
      case 'remove':
        remove(doc, op.path);
        break;
      case 'replace':
        get(doc, op.path);
        if (parsePointer(op.path).length === 0) doc = structuredClone(op.value);
        else {
          remove(doc, op.path);
          doc = add(doc, op.path, structuredClone(op.value));
        }
        break;
      case 'move': {
        const from = op.from ?? bad(`operation ${i} (move) needs from`);
        if (op.path.startsWith(`${from}/`)) bad(`operation ${i} moves ${from} into itself`);
        doc = add(doc, op.path, remove(doc, from));
        break;
      }
      case 'copy': {
        const from = op.from ?? bad(`operation ${i} (copy) needs from`);
        doc = add(doc, op.path, structuredClone(get(doc, from)));
        break;
      }
      case 'test':
        if (!deepEqual(get(doc, op.path), op.value)) bad(`test at ${op.path} failed`);
        break;
      default:
        bad(`operation ${i} has the unknown op ${JSON.stringify(op.op)}`);
    }
  });
  return doc as T;
}
