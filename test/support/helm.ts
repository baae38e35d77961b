// The `helm` binary for rendering the chart in tests. It comes from a registry
// package (a pinned dev dependency that ships helm inside a zip archive), is
// unpacked once into node_modules/.cache, and runs with no cluster.
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { promisify } from 'node:util';
import { REPO_ROOT } from './process.js';

const LAYER_ZIP = join(REPO_ROOT, 'node_modules', '@aws-cdk', 'asset-kubectl-v20', 'lib', 'layer.zip');
const HELM = join(REPO_ROOT, 'node_modules', '.cache', 'registrar-test', 'helm');

/** One file of a zip archive (stored or deflated; no zip64). */
function unzipEntry(zip: Buffer, name: string): Buffer {
  let eocd = zip.length - 22;
  while (eocd >= 0 && zip.readUInt32LE(eocd) !== 0x06054b50) eocd -= 1;
  if (eocd < 0) throw new Error('not a zip archive');
  const entries = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  for (let i = 0; i < entries; i += 1) {
    const method = zip.readUInt16LE(at + 10);
    const size = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const skip = nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    if (zip.toString('utf8', at + 46, at + 46 + nameLength) === name) {
      const data = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
      const raw = zip.subarray(data, data + size);
      return method === 0 ? raw : inflateRawSync(raw);
    }
    at += 46 + skip;
  }
  throw new Error(`${name} is not in the archive`);
}

export function helmBinary(): string {
  if (existsSync(HELM)) return HELM;
  if (!existsSync(LAYER_ZIP)) throw new Error(`${LAYER_ZIP} is missing: run npm ci`);
  mkdirSync(dirname(HELM), { recursive: true });
  const partial = `${HELM}.${process.pid}`;
  writeFileSync(partial, unzipEntry(readFileSync(LAYER_ZIP), 'helm/helm'));
  chmodSync(partial, 0o755);
  renameSync(partial, HELM);
  return HELM;
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs helm with a private home, so no user configuration or repository is read. */
export async function helm(args: string[]): Promise<HelmResult> {
  const home = join(dirname(HELM), 'home');
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HELM_CACHE_HOME: join(home, 'cache'), HELM_CONFIG_HOME: join(home, 'config'), HELM_DATA_HOME: join(home, 'data') };
  try {
    const { stdout, stderr } = await promisify(execFile)(helmBinary(), args, { env, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}
