/**
 * Anonymization throughput: addresses/second per method for IPv4 and IPv6, cold (no cache,
 * every address new) and warm (prefix tree / result caches on a realistic distribution:
 * Zipf over 4096 /24s, uniform hosts; measured on a second pass over the same 2 M-address
 * sample, i.e. steady state), plus whole flows/second through the default policy.
 *
 * Run: `node bin/run-ts.mjs bench/anonymize.bench.ts` (or `npx bun bench/anonymize.bench.ts`).
 * Owns: measurement only; never a test (no thresholds).
 */
import { DEFAULT_POLICY } from '../schemas/policy.ts';
import { newRawFlow } from '../sealed-processor/flows/flow-record.ts';
import { AddressAnonymizer } from '../sealed-processor/anonymize/address-anonymizer.ts';
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

/** IPv4 sample: Zipf(s = 1.1) over `prefixes` random /24s, uniform host byte. */
function zipfV4(n: number, prefixes: number, seed: number): Uint32Array {
  const r = rng(seed);
  const p24 = Array.from({ length: prefixes }, () => Math.floor(r() * 0xffffff));
  const cdf = new Float64Array(prefixes);
  let acc = 0;
  for (let i = 0; i < prefixes; i++) { acc += 1 / (i + 1) ** 1.1; cdf[i] = acc; }
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const u = r() * acc;
    let lo = 0, hi = prefixes - 1;
    while (lo < hi) { const mid = (lo + hi) >>> 1; if (cdf[mid] < u) lo = mid + 1; else hi = mid; }
    out[i] = ((p24[lo] << 8) | Math.floor(r() * 256)) >>> 0;
  }
  return out;
}

function time(fn: () => void): number {
  const t = performance.now();
  fn();
  return (performance.now() - t) / 1000;
}

const rate = (n: number, s: number): number => Math.round(n / s);

/** Runs the benchmark, prints a table and returns { "<method>/<v4|v6>/<cold|cached|policy>": addresses/s, "flows/s": … }. */
export async function runAnonymizeBench(): Promise<Record<string, number>> {
  const r = rng(42);
  const random = (n: number): Uint8Array => { const b = new Uint8Array(n); for (let i = 0; i < n; i++) b[i] = (r() * 256) | 0; return b; };
  const res: Record<string, number> = {};
  const w = new Uint32Array(4);
  const warm = zipfV4(2_000_000, 4096, 7);
  for (const m of METHODS) {
    const key = random(Math.max(1, METHOD_KEY_BYTES[m]));
    const slow = m === 'ipcrypt-pfx' || m === 'cryptopan';
    const cold = createAddressMethod({ method: m }, key, { random, cache: false });
    const n4 = slow ? 30_000 : 300_000;
    res[`${m}/v4/cold`] = rate(n4, time(() => { for (let i = 0; i < n4; i++) m.startsWith('ipcrypt-nd') ? cold.token([0, 0, 0xffff, Math.imul(i, 2654435761) >>> 0]) : cold.mapV4(Math.imul(i, 2654435761) >>> 0, w); }));
    const n6 = slow ? 4_000 : 200_000;
    const a6 = new Uint32Array([0x20010db8, 0, 0, 0]);
    res[`${m}/v6/cold`] = rate(n6, time(() => { for (let i = 0; i < n6; i++) { a6[1] = i; a6[3] = Math.imul(i, 2654435761) >>> 0; m.startsWith('ipcrypt-nd') ? cold.token(a6) : cold.mapV6(a6, w); } }));
    if (m === 'ipcrypt-nd' || m === 'ipcrypt-ndx') continue;
    const cached = createAddressMethod({ method: m }, key, { random, cache: true });
    for (let i = 0; i < warm.length; i++) cached.mapV4(warm[i], w); // warm-up pass (JIT and caches)
    res[`${m}/v4/cached`] = rate(warm.length, time(() => { for (let i = 0; i < warm.length; i++) cached.mapV4(warm[i], w); }));
    // Full policy path (special ranges, result cache, text + u64 halves).
    const pol = new AddressAnonymizer(createAddressMethod({ method: m }, key, { random }), undefined, null);
    for (let i = 0; i < warm.length; i++) pol.mapV4(warm[i]);
    res[`${m}/v4/policy`] = rate(warm.length, time(() => { for (let i = 0; i < warm.length; i++) pol.mapV4(warm[i]); }));
  }
  const anon = createFlowAnonymizer(DEFAULT_POLICY, random(32));
  const f = newRawFlow();
  f.srcMacHi = 0x001122; f.srcMacLo = 0x334455; f.dstMacHi = 0x00aabb; f.dstMacLo = 0x010203;
  const nf = 500_000;
  const run = (): void => { for (let i = 0; i < nf; i++) { f.srcV4 = warm[i]; f.dstV4 = warm[(i * 7) % warm.length]; f.srcPort = i & 0xffff; anon.anonymizeFlow(f); } };
  run();
  res['flows/s (default policy, IPv4, warm)'] = rate(nf, time(run));
  console.log('method/family/mode'.padEnd(42), 'addresses/s');
  for (const [k, v] of Object.entries(res)) console.log(k.padEnd(42), v.toLocaleString('en-US'));
  return res;
}

const self = (globalThis as { process?: { argv?: string[] } }).process?.argv?.[1] ?? '';
if (self.endsWith('anonymize.bench.ts')) await runAnonymizeBench();
