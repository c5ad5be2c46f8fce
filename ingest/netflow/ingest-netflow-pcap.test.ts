/**
 * `ingest netflow --pcap` on captures built here frame by frame (independent encoders): each
 * UDP datagram is sealed byte-exact with the UDP source as exporter and the packet time as
 * receive time, on every supported link type; frames without a whole datagram are counted
 * by reason; `--port` filters; bad inputs get their own codes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import { encodePcap, encodePcapng, type FixtureBlock } from '../capture/capture-fixtures.ts';
import { runIngestNetflowPcap } from './ingest-netflow-pcap.ts';
import { readDatagrams, withSpool } from './netflow-test-helpers.test-util.ts';

const u16 = (n: number) => [n >> 8, n & 0xff];
const cat = (...parts: (Uint8Array | number[])[]) => Buffer.concat(parts.map((p) => Buffer.from(p)));

function udp(sport: number, dport: number, payload: Uint8Array, lengthDelta = 0): Buffer {
  return cat(u16(sport), u16(dport), u16(8 + payload.length + lengthDelta), [0, 0], payload);
}

function ipv4(src: number[], proto: number, body: Uint8Array, opts: { fragment?: number } = {}): Buffer {
  return cat([0x45, 0], u16(20 + body.length), [0, 1], u16(opts.fragment ?? 0x4000), [64, proto, 0, 0], src, [198, 51, 100, 1], body);
}

function ipv6(src: number[], next: number, body: Uint8Array): Buffer {
  return cat([0x60, 0, 0, 0], u16(body.length), [next, 64], src, [0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 1], body);
}

function ether(type: number, body: Uint8Array, vlan?: number): Buffer {
  const macs = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
  return vlan === undefined ? cat(macs, u16(type), body) : cat(macs, u16(0x8100), u16(vlan), u16(type), body);
}

const payload = (i: number, n = 60) => Buffer.from(Array.from({ length: n }, (_, k) => (i * 31 + k) & 0xff));
const V4A = [192, 0, 2, 10];
const V6A = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5];

/** Frames per interface (pcapng interface index = position), each with what it should become. */
const IFACES = [1, 276, 101, 0, 113, 105];
interface Frame { iface: number; data: Buffer; expect: { exporter: string; port: number; payload: Buffer; dport: number; truncated?: boolean } | string }
const hopByHop = (next: number, body: Uint8Array) => cat([next, 0, 1, 4, 0, 0, 0, 0], body);
const frames: Frame[] = [
  { iface: 0, data: ether(0x0800, ipv4(V4A, 17, udp(40000, 2055, payload(1)))), expect: { exporter: '192.0.2.10', port: 40000, payload: payload(1), dport: 2055 } },
  { iface: 0, data: ether(0x0800, ipv4(V4A, 17, udp(40001, 4739, payload(2))), 100), expect: { exporter: '192.0.2.10', port: 40001, payload: payload(2), dport: 4739 } },
  { iface: 0, data: ether(0x86dd, ipv6(V6A, 0, hopByHop(17, udp(40002, 2055, payload(3))))), expect: { exporter: '2001:db8::5', port: 40002, payload: payload(3), dport: 2055 } },
  { iface: 1, data: cat([0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 0, 1, 6, 2, 0, 0, 0, 0, 1, 0, 0], ipv4([10, 0, 0, 1], 17, udp(2000, 9995, payload(4)))), expect: { exporter: '10.0.0.1', port: 2000, payload: payload(4), dport: 9995 } },
  { iface: 2, data: ipv6(V6A, 17, udp(40003, 2055, payload(5, 200))), expect: { exporter: '2001:db8::5', port: 40003, payload: payload(5, 200), dport: 2055 } },
  { iface: 3, data: cat([2, 0, 0, 0], ipv4([127, 0, 0, 1], 17, udp(5555, 2055, payload(6)))), expect: { exporter: '127.0.0.1', port: 5555, payload: payload(6), dport: 2055 } },
  { iface: 4, data: cat([0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x86, 0xdd], ipv6(V6A, 17, udp(1, 2055, payload(7)))), expect: { exporter: '2001:db8::5', port: 1, payload: payload(7), dport: 2055 } },
  // Captured short of its UDP length (snap length): sealed as far as captured, counted.
  { iface: 0, data: ether(0x0800, ipv4(V4A, 17, udp(40004, 2055, payload(8, 300)))).subarray(0, 14 + 20 + 8 + 100), expect: { exporter: '192.0.2.10', port: 40004, payload: payload(8, 100), dport: 2055, truncated: true } },
  { iface: 0, data: ether(0x0800, ipv4(V4A, 17, udp(40005, 2055, payload(9)), { fragment: 0x2000 })), expect: 'ip_fragment' },
  { iface: 0, data: ether(0x0800, ipv4(V4A, 17, payload(10), { fragment: 0x0010 })), expect: 'ip_fragment' },
  { iface: 0, data: ether(0x86dd, ipv6(V6A, 44, cat([17, 0, 0, 0x11, 0, 0, 0, 9], payload(11)))), expect: 'ip_fragment' },
  { iface: 0, data: ether(0x0800, ipv4(V4A, 6, payload(12, 40))), expect: 'not_udp' },
  { iface: 0, data: ether(0x0806, payload(13, 28)), expect: 'not_ip' },
  { iface: 0, data: ether(0x0800, ipv4(V4A, 17, udp(40006, 2055, payload(14), 10))), expect: 'malformed' },
  { iface: 0, data: Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), expect: 'truncated' },
  { iface: 5, data: payload(15, 40), expect: 'unsupported_link' },
];

const T0 = 1_750_000_000;
const blocks: FixtureBlock[] = frames.map((f, i) => ({ type: 'epb', ifIndex: f.iface, tsSec: T0 + i, tsNsec: i * 1000, origLen: f.data.length, data: f.data }));
const capture = encodePcapng([{ littleEndian: true, interfaces: IFACES.map((linkType) => ({ linkType, tsresol: 9 })), blocks }]);

function expectedSkips(only?: number): Record<string, number> {
  const out: Record<string, number> = { unsupported_link: 0, not_ip: 0, not_udp: 0, ip_fragment: 0, truncated: 0, malformed: 0, other_port: 0 };
  for (const f of frames) {
    if (typeof f.expect === 'string') out[f.expect]!++;
    else if (only !== undefined && f.expect.dport !== only) out.other_port!++;
  }
  return out;
}

for (const only of [undefined, 2055]) {
  test(`every UDP datagram of the capture is sealed as the collector would have${only ? ' (--port 2055 only)' : ''}; the rest counted by reason`, async () => {
    await withSpool(async (spoolDir, keys, tmp) => {
      const input = join(tmp, 'export.pcapng');
      await writeFile(input, capture);
      const logs: object[] = [];
      const res = await runIngestNetflowPcap({ input, spoolDir, runId: 'replay', log: (o) => logs.push(o), ...(only ? { port: only } : {}) });
      const want = frames.map((f, i) => ({ f, i })).filter(({ f }) => typeof f.expect !== 'string' && (only === undefined || f.expect.dport === only));
      assert.equal(res.packets, frames.length);
      assert.equal(res.datagrams, want.length);
      assert.equal(res.records, want.length);
      assert.deepEqual(res.skipped, expectedSkips(only));
      assert.equal(res.payloadTruncated, 1);
      const { datagrams, finals } = await readDatagrams(spoolDir, keys, 'replay');
      assert.deepEqual(finals.at(-1), true);
      assert.equal(datagrams.length, want.length);
      datagrams.forEach((d, k) => {
        const { f, i } = want[k]!;
        const e = f.expect as Exclude<Frame['expect'], string>;
        assert.equal(d.exporter, e.exporter, `frame ${i}`);
        assert.equal(d.port, e.port);
        assert.ok(d.payload.equals(e.payload), `frame ${i} payload byte-exact`);
        assert.equal(d.tsSec, T0 + i);
        assert.equal(d.tsNsec, i * 1000);
        assert.equal(d.origLen, 16 + (e.truncated ? 300 : e.payload.length));
      });
      assert.ok(!JSON.stringify(logs).includes('192.0.2'), 'logs carry no addresses');
    });
  });
}

test('stdin, classic pcap, progress lines for a capture replay', async () => {
  await withSpool(async (spoolDir, keys) => {
    const packets = Array.from({ length: 50 }, (_, i) => ({ ifIndex: 0, tsSec: T0 + i, tsNsec: 0, origLen: 0, data: ether(0x0800, ipv4(V4A, 17, udp(40000 + i, 2055, payload(i)))) }));
    for (const p of packets) p.origLen = p.data.length;
    const bytes = encodePcap({ littleEndian: false, nanos: false, linkType: 1, packets });
    async function* pieces() {
      for (let i = 0; i < bytes.length; i += 97) yield bytes.subarray(i, i + 97);
    }
    let text = '';
    const res = await runIngestNetflowPcap({ input: '-', stdin: pieces(), spoolDir, runId: 'stdin', log: () => undefined, progress: { intervalMs: 1, tty: false, write: (s) => void (text += s) } });
    assert.equal(res.datagrams, 50);
    const { datagrams } = await readDatagrams(spoolDir, keys, 'stdin');
    assert.deepEqual(datagrams.map((d) => d.port), packets.map((_, i) => 40000 + i));
    for (const line of text.split('\n').filter(Boolean)) {
      const l = JSON.parse(line);
      assert.equal(l.event, 'progress');
      assert.equal(typeof l.packetsPerSec, 'number');
    }
  });
});

test('bad inputs: missing file, a directory, not a capture (refused before a run is opened); a stream that is not a capture', async () => {
  await withSpool(async (spoolDir, keys, tmp) => {
    const run = (input: string, runId?: string, stdin?: AsyncIterable<Uint8Array>) => runIngestNetflowPcap({ input, spoolDir, log: () => undefined, ...(runId ? { runId } : {}), ...(stdin ? { stdin } : {}) });
    await assert.rejects(run(join(tmp, 'missing.pcap')), (e: unknown) => e instanceof AppError && e.code === ErrorCode.InputNotFound && e.message.includes('missing.pcap'));
    await assert.rejects(run(tmp), (e: unknown) => e instanceof AppError && e.code === ErrorCode.InputNotAFile);
    await writeFile(join(tmp, 'notes.txt'), 'not a capture at all');
    await assert.rejects(run(join(tmp, 'notes.txt'), 'bad'), (e: unknown) => e instanceof AppError && e.code === ErrorCode.InputNotCapture && e.message.includes('notes.txt'));
    assert.deepEqual((await readDatagrams(spoolDir, keys, 'bad')).finals, [], 'no run opened');
    // A stream cannot be sniffed without consuming it: the reader refuses it, and the run is
    // closed with an empty final segment.
    const text = (async function* () {
      yield new TextEncoder().encode('not a capture at all');
    })();
    await assert.rejects(run('-', 'bad-stdin', text), (e: unknown) => e instanceof AppError && e.code === ErrorCode.CaptureBadMagic);
    const { datagrams, finals } = await readDatagrams(spoolDir, keys, 'bad-stdin');
    assert.deepEqual([datagrams.length, finals], [0, [true]]);
  });
});
