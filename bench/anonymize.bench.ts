/**
 * Anonymization throughput, addresses/second on one core, per method and family:
 * - `cold`: no cache, every address new (the primitive's own cost);
 * - `cached-first`: caches on, first pass over a realistic sample (misses included);
 * - `cached`: caches on, second pass over the same sample (steady state);
 * - `policy`: the whole policy path (default special ranges with their reserved outputs,
 *   result cache, text + u64 halves), steady state — what the worker pays per address.
 * Realistic samples: IPv4 Zipf(s = 1.1) over 4096 random /24s, uniform host byte; IPv6
 * Zipf(s = 1.1) over 4096 random /64s, 16 interface identifiers each. Plus whole flows/second
 * through the default policy.
 *
 * Run: `node bin/run-ts.mjs bench/anonymize.bench.ts` or `npx bun bench/anonymize.bench.ts`.
 * Owns: measurement only; never a test (no thresholds).
 */
import { DEFAULT_POLICY } from '../schemas/policy.ts';
import { newRawFlow } from '../sealed-processor/flows/flow-record.ts';
import { createAddressAnonymizer } from '../sealed-processor/anonymize/address-anonymizer.ts';
import { METHOD_KEY_BYTES, createAddressMethod, type AddressMethodName } from '../sealed-processor/anonymize/address-methods.ts';
import { createFlowAnonymizer } from '../sealed-processor/anonymize/flow-anonymizer.ts';

const METHODS: AddressMethodName[] = ['ipcrypt-pfx', 'cryptopan', 'ipcrypt-det', 'ipcrypt-nd', 'ipcrypt-ndx', 'truncate'];

/** Deterministic xorshift32 so runs are comparable. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
}

/** Zipf(1.1) ranks: `n` draws over `k` items. */
function zipfRanks(n: number, k: number, r: () => number): Uint32Array {
  const cdf = new Float64Array(k);
  let acc = 0;
  for (let i = 0; i < k; i++) { acc += 1 / (i + 1) ** 1.1; cdf[i] = acc; }
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const u = r() * acc;
    let lo = 0, hi = k - 1;
    while (lo < hi) { const mid = (lo + hi) >>> 1; if (cdf[mid] < u) lo = mid + 1; else hi = mid; }
    out[i] = lo;
  }
  return out;
}

/** IPv4 sample: Zipf over `prefixes` random /24s, uniform host byte. */
function zipfV4(n: number, prefixes: number, seed: number): Uint32Array {
  const r = rng(seed);
  const p24 = Array.from({ length: prefixes }, () => Math.floor(r() * 0xffffff));
  const ranks = zipfRanks(n, prefixes, r);
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = ((p24[ranks[i]] << 8) | Math.floor(r() * 256)) >>> 0;
  return out;
}

/** IPv6 sample (4 words per address): Zipf over random 2xxx::/64s, 16 identifiers each. */
function zipfV6(n: number, prefixes: number, seed: number): Uint32Array {
  const r = rng(seed);
  const word = (): number => Math.floor(r() * 4294967296) >>> 0;
  const tops = Array.from({ length: prefixes }, () => [((0x20000000 | (word() & 0x1fffffff)) >>> 0), word()]);
  const iids = Array.from({ length: prefixes * 16 }, () => [word(), word()]);
  const ranks = zipfRanks(n, prefixes, r);
  const out = new Uint32Array(n * 4);
  for (let i = 0; i < n; i++) {
    const t = tops[ranks[i]];
    const iid = iids[ranks[i] * 16 + Math.floor(r() * 16)];
    out.set([t[0], t[1], iid[0], iid[1]], i * 4);
  }
  return out;
}

function time(fn: () => void): number {
  const t = performance.now();
  fn();
  return (performance.now() - t) / 1000;
}

const rate = (n: number, s: number): number => Math.round(n / s);

/** Runs the benchmark, prints a table and returns { "<method>/<v4|v6>/<mode>": addresses/s, "flows/s …": … }. */
export async function runAnonymizeBench(): Promise<Record<string, number>> {
  const r = rng(42);
  const random = (n: number): Uint8Array => { const b = new Uint8Array(n); for (let i = 0; i < n; i++) b[i] = (r() * 256) | 0; return b; };
  const res: Record<string, number> = {};
  const w = new Uint32Array(4);
  const s4 = zipfV4(2_000_000, 4096, 7);
  const n6 = 300_000;
  const s6 = zipfV6(n6, 4096, 9);
  const a6 = new Uint32Array(4);
  const at6 = (i: number): Uint32Array => { a6[0] = s6[i * 4]; a6[1] = s6[i * 4 + 1]; a6[2] = s6[i * 4 + 2]; a6[3] = s6[i * 4 + 3]; return a6; };
  for (const m of METHODS) {
    const key = random(Math.max(1, METHOD_KEY_BYTES[m]));
    const tokens = m === 'ipcrypt-nd' || m === 'ipcrypt-ndx';
    const slow = m === 'ipcrypt-pfx' || m === 'cryptopan';
    const cold = createAddressMethod({ method: m }, key, { random, cache: false });
    const c4 = slow ? 30_000 : 300_000;
    res[`${m}/v4/cold`] = rate(c4, time(() => { for (let i = 0; i < c4; i++) tokens ? cold.token([0, 0, 0xffff, Math.imul(i, 2654435761) >>> 0]) : cold.mapV4(Math.imul(i, 2654435761) >>> 0, w); }));
    const c6 = slow ? 4_000 : 200_000;
    const u6 = new Uint32Array([0x20010db8, 0, 0, 0]);
    res[`${m}/v6/cold`] = rate(c6, time(() => { for (let i = 0; i < c6; i++) { u6[1] = i; u6[3] = Math.imul(i, 2654435761) >>> 0; tokens ? cold.token(u6) : cold.mapV6(u6, w); } }));
    if (tokens) continue;
    const cached = createAddressMethod({ method: m }, key, { random, cache: true });
    res[`${m}/v4/cached-first`] = rate(s4.length, time(() => { for (let i = 0; i < s4.length; i++) cached.mapV4(s4[i], w); }));
    res[`${m}/v4/cached`] = rate(s4.length, time(() => { for (let i = 0; i < s4.length; i++) cached.mapV4(s4[i], w); }));
    res[`${m}/v6/cached-first`] = rate(n6, time(() => { for (let i = 0; i < n6; i++) cached.mapV6(at6(i), w); }));
    res[`${m}/v6/cached`] = rate(n6, time(() => { for (let i = 0; i < n6; i++) cached.mapV6(at6(i), w); }));
    const pol = createAddressAnonymizer({ method: m }, key, undefined, null, { random });
    res[`${m}/v4/policy-first`] = rate(s4.length, time(() => { for (let i = 0; i < s4.length; i++) pol.mapV4(s4[i]); }));
    res[`${m}/v4/policy`] = rate(s4.length, time(() => { for (let i = 0; i < s4.length; i++) pol.mapV4(s4[i]); }));
    res[`${m}/v6/policy-first`] = rate(n6, time(() => { for (let i = 0; i < n6; i++) pol.mapV6(at6(i)); }));
    res[`${m}/v6/policy`] = rate(n6, time(() => { for (let i = 0; i < n6; i++) pol.mapV6(at6(i)); }));
  }
  const anon = createFlowAnonymizer(DEFAULT_POLICY, random(32));
  const f = newRawFlow();
  f.srcMacHi = 0x001122; f.srcMacLo = 0x334455; f.dstMacHi = 0x00aabb; f.dstMacLo = 0x010203;
  const nf = 500_000;
  const run = (): void => { for (let i = 0; i < nf; i++) { f.srcV4 = s4[i]; f.dstV4 = s4[(i * 7) % s4.length]; f.srcPort = i & 0xffff; anon.anonymizeFlow(f); } };
  run();
  res['flows/s (default policy, IPv4, warm)'] = rate(nf, time(run));
  console.log('method/family/mode'.padEnd(42), 'addresses/s');
  for (const [k, v] of Object.entries(res)) console.log(k.padEnd(42), v.toLocaleString('en-US'));
  return res;
}

const self = (globalThis as { process?: { argv?: string[] } }).process?.argv?.[1] ?? '';
if (self.endsWith('anonymize.bench.ts')) await runAnonymizeBench();
