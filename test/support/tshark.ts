// tshark as a test oracle: conversation tables (`-z conv,tcp|udp`), per-packet fields and
// malformed-packet counts, read from a capture file with name resolution off (`-n`). Tests
// compare flowseal's flow records with these numbers. This file only runs tshark on files it
// is given; it never captures, never writes files, and never resolves names over the network.
//
// Direction semantics (checked by hand on tshark 4.0.17, see tshark.test.ts): each row reads
// `A:portA <-> B:portB | <- frames bytes | -> frames bytes | total | rel start | duration`,
// where the `<-` group counts B→A frames and the `->` group counts A→B frames. Byte columns
// are link-layer frame bytes and tshark 4.0 prints them with SI units once they reach 10 000
// ("183 kB"); the exact values are therefore recomputed here from per-packet fields.
import { spawn } from 'node:child_process';

/** One row of a tshark conversation table, with exact byte counts. */
export type Conversation = {
  addrA: string;
  portA: number;
  addrB: string;
  portB: number;
  /** Frames sent from A to B. */
  framesAtoB: number;
  /** Link-layer (frame) bytes sent from A to B. */
  bytesAtoB: number;
  framesBtoA: number;
  bytesBtoA: number;
  framesTotal: number;
  bytesTotal: number;
  /** IP-layer bytes A→B: IPv4 total length, or IPv6 payload length + 40, summed. */
  ipBytesAtoB: number;
  ipBytesBtoA: number;
  /** Seconds from the first packet of the capture to the first packet of the conversation. */
  relStart: number;
  /** Seconds between the first and last packet of the conversation (4 decimals in tshark). */
  duration: number;
  /** Earliest / latest packet time of the conversation, microseconds since the Unix epoch. */
  firstUs: number;
  lastUs: number;
  /** Which side sent the conversation's first packet in file order (the initiator). */
  firstSender: 'A' | 'B';
};

/** A row exactly as printed; byte values rounded down to the unit when `bytesExact` is false. */
export type ConversationRow = Omit<Conversation, 'ipBytesAtoB' | 'ipBytesBtoA' | 'firstUs' | 'lastUs' | 'firstSender'> & {
  bytesExact: boolean;
};

const UNIT = { bytes: 1, kB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 } as const;

function parseSize(value: string, unit: string): { n: number; exact: boolean } {
  const mult = (UNIT as Record<string, number>)[unit];
  if (mult === undefined) throw new TypeError(`unknown size unit in tshark output: ${unit}`);
  const n = Number(value);
  if (!Number.isFinite(n)) throw new TypeError(`bad number in tshark output: ${value}`);
  return { n: n * mult, exact: mult === 1 };
}

function splitEndpoint(ep: string): { addr: string; port: number } {
  const i = ep.lastIndexOf(':');
  if (i <= 0) throw new TypeError(`bad endpoint in tshark output: ${ep}`);
  return { addr: ep.slice(0, i), port: Number(ep.slice(i + 1)) };
}

/**
 * Parses the text of `tshark -q -z conv,tcp` or `conv,udp` (one or several tables). Rows are
 * the lines containing `<->`; header and separator lines are skipped.
 * @throws TypeError on a row that does not have the expected 14 columns or units.
 */
export function parseConversationTable(text: string): ConversationRow[] {
  const rows: ConversationRow[] = [];
  for (const line of text.split('\n')) {
    if (!line.includes('<->')) continue;
    const t = line.trim().split(/\s+/);
    if (t.length !== 14 || t[1] !== '<->') throw new TypeError(`unexpected tshark conv row: ${t.length} columns`);
    const a = splitEndpoint(t[0]);
    const b = splitEndpoint(t[2]);
    const bToA = parseSize(t[4], t[5]);
    const aToB = parseSize(t[7], t[8]);
    const total = parseSize(t[10], t[11]);
    rows.push({
      addrA: a.addr,
      portA: a.port,
      addrB: b.addr,
      portB: b.port,
      framesBtoA: Number(t[3]),
      bytesBtoA: bToA.n,
      framesAtoB: Number(t[6]),
      bytesAtoB: aToB.n,
      framesTotal: Number(t[9]),
      bytesTotal: total.n,
      relStart: Number(t[12]),
      duration: Number(t[13]),
      bytesExact: bToA.exact && aToB.exact && total.exact,
    });
  }
  return rows;
}

/**
 * Runs tshark with `args` and resolves with its stdout.
 * @throws Error when tshark exits non-zero (message carries the exit code, not the output).
 */
export function runTshark(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('tshark', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new Error(`tshark exited with ${code}: ${Buffer.concat(err).toString('utf8').slice(0, 500)}`));
    });
  });
}

/** Options of `tsharkFields`. */
export type FieldsOptions = {
  /** Display filter (`-Y`); default: every packet. */
  filter?: string;
  /** Every occurrence of a field, joined by `|`, instead of only the first. Default false. */
  allOccurrences?: boolean;
};

/**
 * Streams `tshark -n -r file -T fields` output and calls `onRow` with each packet's field
 * values ('' when absent). Memory stays flat on big files.
 * @throws Error when tshark exits non-zero.
 */
export function tsharkFields(
  file: string,
  fields: readonly string[],
  onRow: (values: string[]) => void,
  opts: FieldsOptions = {},
): Promise<void> {
  const occurrence = opts.allOccurrences ? ['-E', 'occurrence=a', '-E', 'aggregator=|'] : ['-E', 'occurrence=f'];
  const args = ['-n', '-r', file, '-T', 'fields', ...occurrence, '-E', 'separator=/t'];
  if (opts.filter) args.push('-Y', opts.filter);
  for (const f of fields) args.push('-e', f);
  return new Promise((resolve, reject) => {
    const child = spawn('tshark', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let rest = '';
    const err: Buffer[] = [];
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) onRow(line.split('\t'));
    });
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => {
      if (rest) onRow(rest.split('\t'));
      if (code === 0) resolve();
      else reject(new Error(`tshark exited with ${code}: ${Buffer.concat(err).toString('utf8').slice(0, 500)}`));
    });
  });
}

type DirTotals = { frames: number; frameBytes: number; ipBytes: number; firstUs: number; lastUs: number; order: number };

/**
 * `frame.time_epoch` text ("1764000000.123456789") to whole microseconds, without going
 * through a float so no precision is lost.
 */
export function epochTextToUs(text: string): number {
  const [sec, frac = ''] = text.split('.');
  return Number(sec) * 1_000_000 + Number((frac + '000000').slice(0, 6));
}

/** IP-layer length of a packet from `ip.len` / `ipv6.plen` field text; 0 when neither. */
function ipLength(ipLen: string, ip6Plen: string): number {
  if (ipLen) return Number(ipLen);
  if (ip6Plen) return Number(ip6Plen) + 40;
  return 0;
}

/**
 * Conversations of `proto` in `file` as tshark sees them, with exact frame and IP-layer byte
 * counts per direction. Frame counts from the conv table are cross-checked against a
 * per-packet pass, so a misread column cannot go unnoticed.
 * @throws Error when tshark fails or the two passes disagree.
 */
export async function tsharkConversations(file: string, proto: 'tcp' | 'udp'): Promise<Conversation[]> {
  const rows = parseConversationTable(await runTshark(['-q', '-n', '-r', file, '-z', `conv,${proto}`]));
  const byDir = new Map<string, DirTotals>();
  const fields = [
    'ip.src', 'ipv6.src', 'ip.dst', 'ipv6.dst', `${proto}.srcport`, `${proto}.dstport`,
    'frame.len', 'ip.len', 'ipv6.plen', 'frame.time_epoch', 'frame.number',
  ];
  await tsharkFields(
    file,
    fields,
    (v) => {
      const key = `${v[0] || v[1]}|${v[4]}|${v[2] || v[3]}|${v[5]}`;
      const us = epochTextToUs(v[9]);
      let d = byDir.get(key);
      if (!d) byDir.set(key, (d = { frames: 0, frameBytes: 0, ipBytes: 0, firstUs: us, lastUs: us, order: Number(v[10]) }));
      d.frames += 1;
      d.frameBytes += Number(v[6]);
      d.ipBytes += ipLength(v[7], v[8]);
      if (us < d.firstUs) d.firstUs = us;
      if (us > d.lastUs) d.lastUs = us;
    },
    { filter: proto },
  );
  const none: DirTotals = { frames: 0, frameBytes: 0, ipBytes: 0, firstUs: Infinity, lastUs: -Infinity, order: Infinity };
  return rows.map((r) => {
    const ab = byDir.get(`${r.addrA}|${r.portA}|${r.addrB}|${r.portB}`) ?? none;
    const ba = byDir.get(`${r.addrB}|${r.portB}|${r.addrA}|${r.portA}`) ?? none;
    if (ab.frames !== r.framesAtoB || ba.frames !== r.framesBtoA) {
      throw new Error(`tshark conv/fields disagree on ${proto} conversation frame counts`);
    }
    const { bytesExact: _, ...rest } = r;
    return {
      ...rest,
      bytesAtoB: ab.frameBytes,
      bytesBtoA: ba.frameBytes,
      bytesTotal: ab.frameBytes + ba.frameBytes,
      ipBytesAtoB: ab.ipBytes,
      ipBytesBtoA: ba.ipBytes,
      firstUs: Math.min(ab.firstUs, ba.firstUs),
      lastUs: Math.max(ab.lastUs, ba.lastUs),
      firstSender: ab.order <= ba.order ? 'A' : 'B',
    };
  });
}

/**
 * Packet count, frame bytes and IP-layer bytes (IPv4 total length / IPv6 payload length + 40)
 * of the packets matching a display filter (all packets when `filter` is empty).
 * @throws Error when tshark fails (e.g. an invalid filter).
 */
export async function tsharkIpBytes(
  file: string,
  filter = '',
): Promise<{ packets: number; frameBytes: number; ipBytes: number }> {
  const t = { packets: 0, frameBytes: 0, ipBytes: 0 };
  await tsharkFields(
    file,
    ['frame.len', 'ip.len', 'ipv6.plen'],
    (v) => {
      t.packets += 1;
      t.frameBytes += Number(v[0]);
      t.ipBytes += ipLength(v[1], v[2]);
    },
    { filter },
  );
  return t;
}

/** Number of packets tshark flags as malformed (`_ws.malformed`) or with expert errors. */
export async function tsharkMalformedCount(file: string): Promise<number> {
  let n = 0;
  await tsharkFields(file, ['frame.number'], () => (n += 1), {
    filter: '_ws.malformed || _ws.expert.severity == error',
  });
  return n;
}
