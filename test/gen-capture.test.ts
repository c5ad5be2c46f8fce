import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateCapture } from '../bench/gen-capture.ts';
import { tsharkConversations, tsharkIpBytes, tsharkMalformedCount, runTshark } from './support/tshark.ts';
import { skipUnlessTools } from './support/required-tools.ts';

const OPTS = { packets: 6000, connections: 300, seed: 11 } as const;

/** Walks a classic little-endian pcap: record count, sum of captured lengths, times in order. */
function walkPcap(buf: Buffer): { linkType: number; records: number; bytes: number; ordered: boolean; firstUs: number } {
  assert.equal(buf.readUInt32LE(0), 0xa1b2c3d4);
  let o = 24;
  let records = 0;
  let bytes = 0;
  let last = -1;
  let ordered = true;
  let firstUs = -1;
  while (o < buf.length) {
    const us = buf.readUInt32LE(o) * 1e6 + buf.readUInt32LE(o + 4);
    const incl = buf.readUInt32LE(o + 8);
    assert.equal(incl, buf.readUInt32LE(o + 12), 'no truncated packet');
    if (us < last) ordered = false;
    if (firstUs < 0) firstUs = us;
    last = us;
    records++;
    bytes += incl;
    o += 16 + incl;
  }
  assert.equal(o, buf.length, 'file ends on a record boundary');
  return { linkType: buf.readUInt32LE(20), records, bytes, ordered, firstUs };
}

async function withCapture<T>(fn: (path: string, r: Awaited<ReturnType<typeof generateCapture>>) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'flowseal-gen-'));
  try {
    const path = join(dir, 'g.pcap');
    return await fn(path, await generateCapture(path, OPTS));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('generateCapture writes exactly the requested packets as a valid Ethernet pcap', async () => {
  await withCapture(async (path, r) => {
    const buf = await readFile(path);
    const w = walkPcap(buf);
    assert.equal(w.linkType, 1);
    assert.equal(w.records, OPTS.packets);
    assert.equal(r.packets, OPTS.packets);
    assert.equal(w.bytes, r.bytes);
    assert.equal(r.ipBytes, r.bytes - 14 * r.packets);
    assert.ok(w.ordered, 'timestamps never go backwards');
    assert.equal(w.firstUs >= Date.UTC(2025, 0, 1, 0, 58) * 1000, true);
    assert.equal(r.connections, OPTS.connections);
    assert.equal(r.tcp + r.udp + r.icmp, OPTS.connections);
    assert.ok(r.tcp > 0 && r.udp > 0 && r.icmp > 0, 'all three kinds present');
  });
});

test('generateCapture is deterministic per seed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'flowseal-gen-'));
  try {
    const hash = async (seed: number, name: string) => {
      const p = join(dir, name);
      await generateCapture(p, { ...OPTS, packets: 2000, connections: 100, seed });
      return createHash('sha256').update(await readFile(p)).digest('hex');
    };
    const a = await hash(5, 'a.pcap');
    assert.equal(await hash(5, 'b.pcap'), a);
    assert.notEqual(await hash(6, 'c.pcap'), a);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('generateCapture rejects impossible budgets', async () => {
  await assert.rejects(generateCapture(join(tmpdir(), 'never.pcap'), { packets: 10, connections: 100, seed: 1 }), RangeError);
  await assert.rejects(generateCapture(join(tmpdir(), 'never.pcap'), { packets: 0, connections: 1, seed: 1 }), RangeError);
});

const skip = skipUnlessTools('tshark');

test('tshark reads the generated capture: no malformed packet, conversations as generated', { skip }, async () => {
  await withCapture(async (path, r) => {
    assert.equal(await tsharkMalformedCount(path), 0);
    const all = await tsharkIpBytes(path);
    assert.equal(all.packets, r.packets);
    assert.equal(all.ipBytes, r.ipBytes, 'IP total/payload lengths agree with what was written');
    const tcp = await tsharkConversations(path, 'tcp');
    const udp = await tsharkConversations(path, 'udp');
    assert.equal(tcp.length, r.tcp);
    assert.equal(udp.length, r.udp);
    for (const c of tcp) {
      assert.ok(c.framesTotal >= 8, 'handshake, data and close');
      assert.equal(c.firstSender, 'A');
      assert.ok(c.framesAtoB >= 1 && c.framesBtoA >= 1);
    }
    for (const c of udp) {
      assert.equal(c.portB, 53);
      assert.equal(c.framesAtoB, 1);
      assert.equal(c.framesBtoA, 1);
    }
    const v6 = tcp.filter((c) => c.addrA.includes(':')).length;
    assert.ok(v6 > 0 && v6 < tcp.length, 'IPv4 and IPv6 mixed');
    // Every SYN is answered and every handshake is well-formed per tshark's TCP analysis.
    const syn = await tsharkIpBytes(path, 'tcp.flags.syn == 1 && tcp.flags.ack == 0');
    const synAck = await tsharkIpBytes(path, 'tcp.flags.syn == 1 && tcp.flags.ack == 1');
    assert.equal(syn.packets, r.tcp);
    assert.equal(synAck.packets, r.tcp);
    const bad = await runTshark(['-n', '-r', path, '-Y', 'ip.checksum.status == "Bad" || tcp.checksum.status == "Bad" || udp.checksum.status == "Bad" || icmp.checksum.status == "Bad" || icmpv6.checksum.status == "Bad"', '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE']);
    assert.equal(bad.trim(), '', 'all checksums correct');
  });
});
