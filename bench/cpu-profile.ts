/**
 * Reading V8 CPU profiles (`node --cpu-prof` output) for the benchmarks: self time grouped by
 * where the code lives (a repo folder, an npm package, a node: module, or a V8 category such as
 * GC or a native call), and the top functions with their callers — both restricted to a window
 * of the monotonic clock (V8's profile timestamps and `process.hrtime` share it on Linux), so a
 * server's start-up can be left out.
 *
 * Owns: profile summaries. Never: starts or stops profiling.
 */
import { sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ProfileBucket {
  readonly bucket: string;
  readonly ms: number;
  readonly share: number;
}

/** Groups a CPU profile's self time by where the code lives (repo folder, package, or V8 category). */
export function bucketOf(url: string, fn: string, root: string): string {
  if (url === '') return fn === '(idle)' ? '(idle)' : fn === '(garbage collector)' ? 'GC' : fn === '(program)' ? '(program: native, incl. DuckDB bindings)' : `(${fn.replace(/[()]/g, '')})`;
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const nm = path.lastIndexOf(`${sep}node_modules${sep}`);
  if (nm >= 0) {
    const rest = path.slice(nm + 14).split(sep);
    return `npm:${rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  if (path.startsWith(root)) {
    const rel = path.slice(root.length + 1).split(sep);
    return rel[0] === 'api' ? `api/${rel[1]}${rel.length > 3 ? `/${rel[2]}` : ''}` : rel.slice(0, 2).join('/');
  }
  if (path.startsWith('node:')) return path.split('/').slice(0, 3).join('/');
  return path;
}

export interface CpuProfile {
  startTime: number;
  nodes: { id: number; callFrame: { url: string; functionName: string }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

/**
 * Self time by bucket, for samples taken within [fromUs, toUs] of the monotonic clock (V8's
 * profile timestamps and `process.hrtime` share it on Linux), so start-up is left out.
 */
export function summarizeProfile(p: CpuProfile, root: string, fromUs = -Infinity, toUs = Infinity): ProfileBucket[] {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const totals = new Map<string, number>();
  let all = 0;
  let at = p.startTime;
  p.samples.forEach((id, i) => {
    at += p.timeDeltas[i] ?? 0;
    if (at < fromUs || at > toUs) return;
    const n = byId.get(id)!;
    const us = p.timeDeltas[i] ?? 0;
    const b = bucketOf(n.callFrame.url, n.callFrame.functionName, root);
    totals.set(b, (totals.get(b) ?? 0) + us);
    all += us;
  });
  return [...totals].sort((a, b) => b[1] - a[1]).map(([bucket, us]) => ({ bucket, ms: us / 1000, share: us / all }));
}

/** The profile's top functions by self time, with their callers (for digging; BENCH_PROFILE_FUNCTIONS=1). */
export function topFunctions(p: CpuProfile, n: number, fromUs: number, toUs: number): string[] {
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const parent = new Map<number, number>();
  for (const x of p.nodes) for (const ch of x.children ?? []) parent.set(ch, x.id);
  const chains = new Map<string, number>();
  let at = p.startTime;
  p.samples.forEach((id, i) => {
    at += p.timeDeltas[i] ?? 0;
    const f = byId.get(id)!.callFrame;
    if (f.functionName === '(idle)' || at < fromUs || at > toUs) return;
    const chain: string[] = [`${f.functionName || '(anon)'}@${f.url.split('/').slice(-1)[0]}`];
    for (let q = parent.get(id); q !== undefined && chain.length < 5; q = parent.get(q)) chain.push(`${byId.get(q)!.callFrame.functionName}@${byId.get(q)!.callFrame.url.split('/').slice(-1)[0]}`);
    const key = chain.join(' <- ');
    chains.set(key, (chains.get(key) ?? 0) + (p.timeDeltas[i] ?? 0));
  });
  return [...chains].sort((x, y) => y[1] - x[1]).slice(0, n).map(([k, us]) => `${(us / 1000).toFixed(1)} ms ${k}`);
}
