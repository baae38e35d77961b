// The container image's runtime stage, laid out on this machine from the
// Dockerfile's own instructions: no container engine runs here, so the test
// reads the Dockerfile, runs its dependency stage's commands in a scratch
// directory outside the workspace, and copies what the runtime stage copies.
// What it cannot reproduce (the base image, the user switch) the test asserts
// from the instructions instead.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { REPO_ROOT } from './process.js';

export interface Instruction {
  op: string;
  args: string;
}

export interface Stage {
  name: string;
  from: string;
  instructions: Instruction[];
}

/** The Dockerfile's stages, with continuation lines joined and comments dropped. */
export function parseDockerfile(text: string): Stage[] {
  const logical = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, op, args] = /^(\S+)\s*(.*)$/.exec(line)!;
    if (op.toUpperCase() === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args)!;
      stages.push({ from: m[1], name: m[2] ?? String(stages.length), instructions: [] });
    } else if (stages.length > 0) {
      stages[stages.length - 1].instructions.push({ op: op.toUpperCase(), args: args.replace(/\s+/g, ' ') });
    }
  }
  return stages;
}

export function readDockerfile(): Stage[] {
  return parseDockerfile(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
}

/** `ENV A=1 B=2` instructions of a stage, in order. */
export function stageEnv(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of stage.instructions.filter((x) => x.op === 'ENV')) {
    for (const m of i.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)/g)) env[m[1]] = m[2].replace(/^"|"$/g, '');
  }
  return env;
}

/** The exec-form array of an instruction such as `CMD ["node", "x.js"]` (after any options). */
export function execForm(args: string): string[] {
  const json = args.slice(args.indexOf('['));
  return JSON.parse(json) as string[];
}

export function lastWorkdir(stage: Stage): string {
  return stage.instructions.filter((i) => i.op === 'WORKDIR').at(-1)?.args ?? '/';
}

interface Copy {
  from?: string;
  sources: string[];
  dest: string;
}

function parseCopy(args: string): Copy {
  const words = args.split(' ');
  const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
  const paths = words.filter((w) => !w.startsWith('--'));
  return { from, sources: paths.slice(0, -1), dest: paths[paths.length - 1] };
}

/**
 * Lays out the image's last stage under a new directory and returns the path of
 * its WORKDIR (the image's /app). Stages the runtime copies from are produced
 * as follows: the stage whose RUN builds the service (`nest build`) is the
 * workspace itself, which the test command has just built from the same files;
 * any other stage runs its COPY and RUN instructions in a scratch directory.
 */
export function layOutImage(stages: Stage[] = readDockerfile()): string {
  const scratch = mkdtempSync(join(tmpdir(), 'registrar-image-'));
  const stageRoots = new Map<string, string>();

  const rootOf = (name: string): string => {
    const known = stageRoots.get(name);
    if (known) return known;
    const stage = stages.find((s) => s.name === name);
    if (!stage) throw new Error(`COPY --from=${name}: no such stage`);
    const root = stage.instructions.some((i) => i.op === 'RUN' && /\bnest build\b/.test(i.args)) ? REPO_ROOT : runStage(stage, join(scratch, name));
    stageRoots.set(name, root);
    return root;
  };

  // Absolute image paths inside a stage map to its WORKDIR on this machine.
  const hostPath = (stage: Stage, root: string, path: string): string => join(root, posix.relative(lastWorkdir(stage), posix.resolve(lastWorkdir(stage), path)));

  const runStage = (stage: Stage, root: string): string => {
    mkdirSync(root, { recursive: true });
    for (const i of stage.instructions) {
      if (i.op === 'COPY') copyInto(stage, root, parseCopy(i.args));
      else if (i.op === 'RUN') execFileSync('sh', ['-c', i.args], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], env: process.env, timeout: 300_000 });
    }
    return root;
  };

  const copyInto = (stage: Stage, root: string, copy: Copy): void => {
    for (const source of copy.sources) {
      let from: string;
      if (copy.from) {
        const fromStage = stages.find((s) => s.name === copy.from)!;
        const fromRoot = rootOf(copy.from);
        from = fromRoot === REPO_ROOT ? join(REPO_ROOT, posix.relative(lastWorkdir(fromStage), source)) : hostPath(fromStage, fromRoot, source);
      } else {
        from = join(REPO_ROOT, source);
      }
      const isDirDest = copy.dest.endsWith('/') || copy.dest === '.' || copy.dest === './' || copy.sources.length > 1;
      const base = source.replace(/\/+$/, '').split('/').pop()!;
      const to = hostPath(stage, root, isDirDest ? posix.join(copy.dest, base) : copy.dest);
      cpSync(from, to, { recursive: true });
    }
  };

  const runtime = stages[stages.length - 1];
  const app = join(scratch, 'runtime');
  for (const i of runtime.instructions) if (i.op === 'COPY') copyInto(runtime, app, parseCopy(i.args));
  return app;
}
