/**
 * Hostile-input tests for the packet decoder and the name extractors: they must never throw
 * and never read a byte outside the packet they were given.
 *
 * Two ways a read outside the packet is made impossible to miss:
 * - exact-length copies: each packet is copied into a fresh ArrayBuffer of exactly its
 *   length and decoded at [0, length), so any DataView getter past the end throws
 *   RangeError (which fails the "never throws" check), and any typed-array index outside the
 *   buffer, which JavaScript would silently read as `undefined`, is caught by a Proxy;
 * - shared buffers: the packet sits between filler bytes of a larger buffer (as records do
 *   in a decrypted segment), and every DataView getter and typed-array index is checked
 *   against [offset, end), so a decoder that bounds itself by the buffer instead of `end`
 *   fails too.
 * The guards record the access and throw at once (a decoder reading `undefined` could
 * otherwise loop on NaN offsets instead of failing).
 * Fuzzed inputs are mutations of valid packets of every kind the decoder supports, random
 * bytes, and every truncation of every valid packet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { classifyAppPayload, extractAppName, AppNameKind } from './app-name.ts';
import { decodePacket } from './decode-packet.ts';
import { DROP_REASON_COUNT, FragmentKind, LinkType, newDecodedPacket, TunnelMode, TunnelType, type DecodedPacket } from './decoded-packet.ts';
import { extractDnsQname, readDnsName } from './dns-name.ts';
import { extractHttpHost } from './http-host.ts';
import { extractTlsSni } from './tls-sni.ts';
import {
  concat,
  dnsMessage,
  dnsName,
  dnsTcp,
  ethernet,
  icmp,
  ipv4,
  ipv6,
  linuxSll,
  linuxSll2,
  loopback,
  tcp,
  text,
  tlsClientHello,
  udp,
} from './testing/packet-builders.ts';
import { LINK_SEEDS } from './testing/link-seeds.ts';

/** True for a property key that a typed array treats as an element index (in range or not). */
function isIndexKey(prop: string | symbol): prop is string {
  if (typeof prop !== 'string') return false;
  if (prop === '-0') return true;
  const n = Number(prop);
  return String(n) === prop;
}

/**
 * Thrown by the guards at the first access outside the packet (after recording it), so a
 * decoder that would otherwise loop on `undefined` or NaN offsets stops at once.
 */
class OutOfBoundsRead extends Error {}

function outOfBounds(bad: string[], what: string): never {
  bad.push(what);
  throw new OutOfBoundsRead(`read outside the packet: ${what}`);
}

/** A Proxy over `buf`: every element read outside [lo, hi) is recorded in `bad` and throws. */
function guardedBytes(buf: Uint8Array, lo: number, hi: number, bad: string[]): Uint8Array {
  return new Proxy(buf, {
    get(target, prop) {
      if (isIndexKey(prop)) {
        const i = Number(prop);
        if (!(Number.isInteger(i) && i >= lo && i < hi)) outOfBounds(bad, `bytes[${prop}]`);
        return Reflect.get(target, prop, target);
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

const GETTER_SIZE: Record<string, number> = {
  getInt8: 1, getUint8: 1, getInt16: 2, getUint16: 2, getFloat16: 2, getInt32: 4, getUint32: 4,
  getFloat32: 4, getFloat64: 8, getBigInt64: 8, getBigUint64: 8,
};

/** A Proxy over `dv`: every getter call touching a byte outside [lo, hi) is recorded and throws. */
function guardedView(dv: DataView, lo: number, hi: number, bad: string[]): DataView {
  return new Proxy(dv, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      if (typeof v !== 'function') return v;
      const size = typeof prop === 'string' ? GETTER_SIZE[prop] : undefined;
      if (size === undefined) {
        if (typeof prop === 'string' && prop.startsWith('get')) outOfBounds(bad, `unknown getter ${prop}`);
        return v.bind(target);
      }
      return (o: number, le?: boolean) => {
        if (!(Number.isInteger(o) && o >= lo && o + size <= hi)) outOfBounds(bad, `${String(prop)}(${o})`);
        return (v as (o: number, le?: boolean) => unknown).call(target, o, le);
      };
    },
  });
}

/**
 * `frame` copied into a fresh ArrayBuffer of exactly its length: a real DataView (getters
 * past the end throw RangeError) and a guarded Uint8Array over the same bytes.
 */
function exactCopy(frame: Uint8Array): { view: DataView; bytes: Uint8Array; bad: string[]; lo: number; hi: number } {
  const buffer = new ArrayBuffer(frame.length);
  const raw = new Uint8Array(buffer);
  raw.set(frame);
  const bad: string[] = [];
  return { view: new DataView(buffer), bytes: guardedBytes(raw, 0, frame.length, bad), bad, lo: 0, hi: frame.length };
}

/** `frame` placed at `pre` inside filler of a larger buffer, every access checked against it. */
function sharedCopy(frame: Uint8Array, pre: number, post: number): { view: DataView; bytes: Uint8Array; bad: string[]; lo: number; hi: number } {
  const buf = new Uint8Array(pre + frame.length + post).fill(0xa5);
  buf.set(frame, pre);
  const bad: string[] = [];
  const lo = pre;
  const hi = pre + frame.length;
  return { view: guardedView(new DataView(buf.buffer), lo, hi, bad), bytes: guardedBytes(buf, lo, hi, bad), bad, lo, hi };
}

const NAME = /^[\x21-\x40\x5b-\x7e]{1,253}$/;

/**
 * The invariants of one decode of the packet at [lo, hi): a status in range, every offset the
 * record reports inside the packet, and the name extractors (whatever the classification)
 * returning null or a clean name. Throws on any violation.
 */
function checkDecoded(status: number, out: DecodedPacket, lo: number, hi: number): void {
  assert.ok(Number.isInteger(status) && status <= 0 && status >= -DROP_REASON_COUNT, `status ${status}`);
  if (status !== 0) return;
  assert.ok(out.ipVersion === 4 || out.ipVersion === 6);
  assert.ok(out.l3Offset >= lo && out.l3Offset < hi, 'l3 offset inside the packet');
  assert.ok(out.ipEnd >= out.l3Offset && out.ipEnd <= hi, 'ipEnd inside the packet');
  assert.ok(out.ipBytes >= 0);
  assert.ok(out.payloadLength >= 0);
  if (out.payloadLength > 0) assert.ok(out.payloadOffset >= out.l4Offset && out.payloadOffset + out.payloadLength <= hi, 'payload inside the packet');
  const kind = classifyAppPayload(out);
  if (kind !== AppNameKind.None) {
    const name = extractAppName(out, kind);
    if (name !== null) assert.match(name, NAME);
  }
  const start = out.payloadOffset;
  const end = start + out.payloadLength;
  for (const name of [
    extractDnsQname(out.bytes, start, end, false),
    extractDnsQname(out.bytes, start, end, true),
    extractTlsSni(out.bytes, start, end),
    extractHttpHost(out.bytes, start, end),
  ]) {
    if (name !== null) assert.match(name, NAME);
  }
}

/** Decodes `frame` from an exact-length copy; fails on a throw or any read outside it. */
function decodeExact(frame: Uint8Array, link: number, origLen: number, out: DecodedPacket, tunnels: TunnelMode = TunnelMode.Inner): number {
  const c = exactCopy(frame);
  let status = 0;
  assert.doesNotThrow(() => {
    status = decodePacket(c.view, c.bytes, 0, frame.length, link, origLen, out, tunnels);
    checkDecoded(status, out, 0, frame.length);
  });
  assert.deepEqual(c.bad, [], 'read outside the packet');
  return status;
}

const MAC1 = '02:00:00:00:00:01';
const MAC2 = '02:00:00:00:00:02';
const A4 = { src: '10.0.0.1', dst: '10.0.0.2' };
const A6 = { src: '2001:db8::1', dst: '2001:db8::2' };
const eth = (etherType: number, p: Uint8Array, vlans: Array<{ tpid: number; vid: number }> = []) => ethernet({ dst: MAC1, src: MAC2, etherType, vlans }, p);
const TCP_OPTS = [2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1];
/** DNS query for a.fuzz.example, plus an answer whose name is "www" + a pointer to the question. */
const DNS_QUESTION = dnsName('a.fuzz.example');
const DNS_ANSWER_AT = 12 + DNS_QUESTION.length + 4;
const DNS_COMPRESSED = dnsMessage(DNS_QUESTION, { response: true, extra: [3, 0x77, 0x77, 0x77, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1] });
const HTTP = text('GET /index.html HTTP/1.1\r\nUser-Agent: fuzz\r\nHost: WWW.Fuzz.Example:8080\r\nAccept: */*\r\n\r\n');
const HTTP6 = text('POST / HTTP/1.1\r\nhost: [2001:db8::1]:80\r\n\r\n');

interface Seed {
  what: string;
  link: number;
  frame: Uint8Array;
  /** What a full decode must find: proves the seed reaches the layer it is meant to exercise. */
  expect: { protocol: number; ipVersion: 4 | 6; dstPort?: number; fragment?: number; icmpType?: number; vlanId?: number; name?: string; tunnelType?: number };
}

/** Valid packets of every kind the decoder supports. */
const SEEDS: Seed[] = [
  { what: 'Ethernet/IPv4/TCP+options/TLS ClientHello SNI', link: LinkType.Ethernet,
    frame: eth(0x0800, ipv4({ ...A4, protocol: 6, id: 5 }, tcp({ sport: 40000, dport: 443, flags: 0x18, options: TCP_OPTS.slice(0, 20) }, tlsClientHello('Fuzz.Example')))),
    expect: { protocol: 6, ipVersion: 4, dstPort: 443, name: 'fuzz.example' } },
  { what: '802.1Q/IPv4/TCP/HTTP Host', link: LinkType.Ethernet,
    frame: eth(0x0800, ipv4({ ...A4, protocol: 6 }, tcp({ sport: 40001, dport: 80, flags: 0x18, options: [1, 1, 1, 1] }, HTTP)), [{ tpid: 0x8100, vid: 3 }]),
    expect: { protocol: 6, ipVersion: 4, dstPort: 80, vlanId: 3, name: 'www.fuzz.example' } },
  { what: 'QinQ/IPv6/TCP/HTTP Host IPv6 literal', link: LinkType.Ethernet,
    frame: eth(0x86dd, ipv6({ ...A6, nextHeader: 6 }, tcp({ sport: 40002, dport: 80, flags: 0x18 }, HTTP6)), [{ tpid: 0x88a8, vid: 100 }, { tpid: 0x8100, vid: 200 }]),
    expect: { protocol: 6, ipVersion: 6, dstPort: 80, vlanId: 100, name: '[2001:db8::1]' } },
  { what: '0x9100/IPv6/UDP/DNS with a compressed answer', link: LinkType.Ethernet,
    frame: eth(0x86dd, ipv6({ ...A6, nextHeader: 17 }, udp({ sport: 53, dport: 5353 }, DNS_COMPRESSED)), [{ tpid: 0x9100, vid: 7 }]),
    expect: { protocol: 17, ipVersion: 6, dstPort: 5353, vlanId: 7, name: 'a.fuzz.example' } },
  { what: 'Ethernet/IPv4/UDP/DNS query', link: LinkType.Ethernet,
    frame: eth(0x0800, ipv4({ ...A4, protocol: 17 }, udp({ sport: 5000, dport: 53 }, dnsMessage(dnsName('q.fuzz.example'))))),
    expect: { protocol: 17, ipVersion: 4, dstPort: 53, name: 'q.fuzz.example' } },
  { what: 'Linux SLL/IPv4/ICMP echo', link: LinkType.LinuxSll,
    frame: linuxSll({ protocol: 0x0800, addr: [1, 2, 3, 4, 5, 6] }, ipv4({ ...A4, protocol: 1 }, icmp({ type: 8, code: 0, id: 1, seq: 2 }, text('ping')))),
    expect: { protocol: 1, ipVersion: 4, icmpType: 8 } },
  { what: 'Linux SLL with a VLAN protocol/IPv4/ICMP unreachable', link: LinkType.LinuxSll,
    frame: linuxSll({ protocol: 0x8100, addr: [1, 2, 3, 4] }, concat(Uint8Array.of(0, 9, 0x08, 0x00), ipv4({ ...A4, protocol: 1 }, icmp({ type: 3, code: 3 }, ipv4({ ...A4, protocol: 17 }, udp({ sport: 1, dport: 2 })))))),
    expect: { protocol: 1, ipVersion: 4, icmpType: 3, vlanId: 9 } },
  { what: 'Linux SLL2/IPv6/ICMPv6 echo', link: LinkType.LinuxSll2,
    frame: linuxSll2({ protocol: 0x86dd, addr: [1, 2, 3, 4, 5, 6] }, ipv6({ ...A6, nextHeader: 58 }, icmp({ type: 128, code: 0, id: 1 }, text('ping6')))),
    expect: { protocol: 58, ipVersion: 6, icmpType: 128 } },
  { what: 'Linux SLL2/IPv6/ICMPv6 neighbour solicitation', link: LinkType.LinuxSll2,
    frame: linuxSll2({ protocol: 0x86dd }, ipv6({ ...A6, nextHeader: 58 }, icmp({ type: 135, code: 0 }, new Uint8Array(16)))),
    expect: { protocol: 58, ipVersion: 6, icmpType: 135 } },
  { what: 'NULL loopback (little-endian AF_INET6 30)/IPv6/TCP/DNS over TCP', link: LinkType.Null,
    frame: loopback(30, true, ipv6({ ...A6, nextHeader: 6 }, tcp({ sport: 40003, dport: 53, flags: 0x18 }, dnsTcp(dnsMessage(dnsName('t.fuzz.example')))))),
    expect: { protocol: 6, ipVersion: 6, dstPort: 53, name: 't.fuzz.example' } },
  { what: 'NULL loopback (big-endian AF_INET)/IPv4/UDP', link: LinkType.Null,
    frame: loopback(2, false, ipv4({ ...A4, protocol: 17 }, udp({ sport: 7, dport: 8 }, new Uint8Array(10)))),
    expect: { protocol: 17, ipVersion: 4, dstPort: 8 } },
  { what: 'LOOP (network order AF_INET6 24)/IPv6/UDP', link: LinkType.Loop,
    frame: loopback(24, false, ipv6({ ...A6, nextHeader: 17 }, udp({ sport: 9, dport: 10 }, new Uint8Array(3)))),
    expect: { protocol: 17, ipVersion: 6, dstPort: 10 } },
  { what: 'raw IPv6: hop-by-hop, routing, destination options, AH, then TCP+options', link: LinkType.Raw,
    frame: ipv6({ ...A6, nextHeader: 6, ext: [{ type: 0 }, { type: 43, body: [0, 0, 0, 0, 0, 0, ...Array(16).fill(0)] }, { type: 60 }, { type: 51 }] }, tcp({ sport: 1, dport: 22, flags: 2, options: TCP_OPTS.slice(0, 12) })),
    expect: { protocol: 6, ipVersion: 6, dstPort: 22 } },
  { what: 'IPv6 first fragment (fragment header, M=1)/UDP', link: LinkType.Ipv6,
    frame: ipv6({ ...A6, nextHeader: 17, ext: [{ type: 0 }, { type: 44, fragment: { offset: 0, more: true, id: 9 } }] }, udp({ sport: 11, dport: 12, length: 3000 }, new Uint8Array(64))),
    expect: { protocol: 17, ipVersion: 6, dstPort: 12, fragment: FragmentKind.First } },
  { what: 'IPv6 later fragment', link: LinkType.Ipv6,
    frame: ipv6({ ...A6, nextHeader: 17, ext: [{ type: 44, fragment: { offset: 1232, more: false, id: 9 } }] }, new Uint8Array(48)),
    expect: { protocol: 17, ipVersion: 6, fragment: FragmentKind.Later } },
  { what: 'IPv6 jumbogram (payload length 0 + hop-by-hop)/UDP', link: LinkType.Ipv6,
    frame: ipv6({ ...A6, nextHeader: 17, ext: [{ type: 0 }], payloadLength: 0 }, udp({ sport: 13, dport: 14 }, new Uint8Array(20))),
    expect: { protocol: 17, ipVersion: 6, dstPort: 14 } },
  { what: 'IPv6 ESP (walk stops)', link: LinkType.Raw,
    frame: ipv6({ ...A6, nextHeader: 50, ext: [{ type: 60 }] }, new Uint8Array(24)),
    expect: { protocol: 50, ipVersion: 6 } },
  { what: 'IPv4 with options/TCP with options', link: LinkType.Ipv4,
    frame: ipv4({ src: '1.1.1.1', dst: '2.2.2.2', protocol: 6, options: [7, 7, 4, 0, 0, 0, 0, 1] }, tcp({ sport: 1, dport: 2, flags: 2, options: TCP_OPTS.slice(0, 20) })),
    expect: { protocol: 6, ipVersion: 4, dstPort: 2 } },
  { what: 'IPv4 first fragment (MF)/UDP', link: LinkType.Raw,
    frame: ipv4({ ...A4, protocol: 17, id: 999, moreFragments: true }, udp({ sport: 500, dport: 4500, length: 3008 }, new Uint8Array(40))),
    expect: { protocol: 17, ipVersion: 4, dstPort: 4500, fragment: FragmentKind.First } },
  { what: 'IPv4 later fragment', link: LinkType.Raw,
    frame: ipv4({ ...A4, protocol: 17, id: 999, fragmentOffset: 1480 }, new Uint8Array(40)),
    expect: { protocol: 17, ipVersion: 4, fragment: FragmentKind.Later } },
  { what: 'IPv4 TSO (total length 0)/TCP', link: LinkType.Raw,
    frame: ipv4({ ...A4, protocol: 6, totalLength: 0 }, tcp({ sport: 3, dport: 4, flags: 0x10 }, text('data'))),
    expect: { protocol: 6, ipVersion: 4, dstPort: 4 } },
  { what: 'IPv4/SCTP port pair', link: LinkType.Raw,
    frame: ipv4({ ...A4, protocol: 132 }, Uint8Array.of(0x0b, 0x59, 0x0b, 0x5a, 0, 0, 0, 0, 0, 0, 0, 0)),
    expect: { protocol: 132, ipVersion: 4, dstPort: 2906 } },
  { what: 'IPv6/UDP-Lite port pair', link: LinkType.Raw,
    frame: ipv6({ ...A6, nextHeader: 136 }, Uint8Array.of(0, 1, 0, 2, 0, 8, 0, 0)),
    expect: { protocol: 136, ipVersion: 6, dstPort: 2 } },
  { what: 'IPv4/DCCP port pair', link: LinkType.Ipv4,
    frame: ipv4({ ...A4, protocol: 33 }, Uint8Array.of(0, 5, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0)),
    expect: { protocol: 33, ipVersion: 4, dstPort: 6 } },
  // Link types and encapsulations of issue 9 (PPP, HDLC, Frame Relay, NFLOG, IPoIB, PPI, PPPoE, MPLS, tunnels).
  ...LINK_SEEDS,
];

const LINK_TYPES = [...Object.values(LinkType), 7];

test('the guards catch what they must (so a clean run means something)', () => {
  const c = exactCopy(Uint8Array.of(1, 2, 3, 4));
  assert.throws(() => c.view.getUint16(3), RangeError, 'a DataView over an exact copy ends at the packet');
  assert.throws(() => c.view.getUint8(4), RangeError);
  assert.equal(c.bytes[3], 4);
  assert.equal(c.bytes.length, 4);
  assert.deepEqual(c.bad, []);
  // Past the end a plain Uint8Array would silently give `undefined`; the guard throws.
  assert.throws(() => c.bytes[4], OutOfBoundsRead);
  assert.throws(() => c.bytes[-1], OutOfBoundsRead);
  assert.throws(() => c.bytes[0.5], OutOfBoundsRead);
  assert.deepEqual(c.bad, ['bytes[4]', 'bytes[-1]', 'bytes[0.5]']);
  const s = sharedCopy(Uint8Array.of(1, 2, 3, 4), 3, 5);
  assert.equal(s.view.getUint16(s.lo + 2), 0x0304);
  assert.equal(s.bytes[s.lo], 1);
  assert.deepEqual(s.bad, []);
  assert.throws(() => s.view.getUint16(s.hi - 1), OutOfBoundsRead);
  assert.throws(() => s.view.getUint8(s.lo - 1), OutOfBoundsRead);
  assert.throws(() => s.view.getInt32(s.lo + 1), OutOfBoundsRead);
  assert.throws(() => s.bytes[s.hi], OutOfBoundsRead);
  assert.deepEqual(s.bad, [`getUint16(${s.hi - 1})`, `getUint8(${s.lo - 1})`, `getInt32(${s.lo + 1})`, `bytes[${s.hi}]`]);
});

test('every seed decodes completely (so its truncations and mutations exercise deep layers)', () => {
  const out = newDecodedPacket();
  for (const s of SEEDS) {
    const status = decodeExact(s.frame, s.link, s.frame.length, out);
    assert.equal(status, 0, s.what);
    assert.equal(out.ipVersion, s.expect.ipVersion, s.what);
    assert.equal(out.protocol, s.expect.protocol, s.what);
    assert.equal(out.fragment, s.expect.fragment ?? FragmentKind.None, s.what);
    if (s.expect.dstPort !== undefined) assert.equal(out.dstPort, s.expect.dstPort, s.what);
    if (s.expect.icmpType !== undefined) assert.equal(out.icmpType, s.expect.icmpType, s.what);
    if (s.expect.vlanId !== undefined) assert.equal(out.vlanId, s.expect.vlanId, s.what);
    assert.equal(out.tunnelType, s.expect.tunnelType ?? TunnelType.None, s.what);
    const kind = classifyAppPayload(out);
    assert.equal(kind === AppNameKind.None ? null : extractAppName(out, kind), s.expect.name ?? null, s.what);
  }
});

test('every truncation of every valid packet decodes without throwing or reading past its end', () => {
  const out = newDecodedPacket();
  for (const s of SEEDS) {
    for (let cut = 0; cut < s.frame.length; cut++) {
      const part = s.frame.subarray(0, cut);
      // Cut by the snaplen (the wire length is the whole frame), a short frame, a lying orig_len.
      for (const origLen of [s.frame.length, cut, 0, 65535]) {
        try {
          decodeExact(part, s.link, origLen, out);
        } catch (e) {
          throw new Error(`${s.what}: cut at ${cut}, orig_len ${origLen}: ${(e as Error).message}`, { cause: e });
        }
      }
    }
  }
});

test('every truncation of DNS (compressed names too), TLS and HTTP payloads is read within its end', () => {
  const payloads: Array<[string, Uint8Array, (b: Uint8Array, end: number) => Array<string | null>]> = [
    ['DNS', DNS_COMPRESSED, (b, end) => [extractDnsQname(b, 0, end, false), readDnsName(b, 0, DNS_ANSWER_AT, end)]],
    ['DNS over TCP', dnsTcp(DNS_COMPRESSED), (b, end) => [extractDnsQname(b, 0, end, true), readDnsName(b, 2, DNS_ANSWER_AT + 2, end)]],
    ['TLS', tlsClientHello('sni.fuzz.example'), (b, end) => [extractTlsSni(b, 0, end)]],
    ['HTTP', HTTP, (b, end) => [extractHttpHost(b, 0, end)]],
  ];
  const full: Record<string, Array<string | null>> = {
    DNS: ['a.fuzz.example', 'www.a.fuzz.example'],
    'DNS over TCP': ['a.fuzz.example', 'www.a.fuzz.example'],
    TLS: ['sni.fuzz.example'],
    HTTP: ['www.fuzz.example'],
  };
  for (const [what, p, extract] of payloads) {
    const whole = exactCopy(p);
    assert.deepEqual(extract(whole.bytes, p.length), full[what], `${what}: the whole payload yields its names`);
    for (let cut = 0; cut <= p.length; cut++) {
      const c = exactCopy(p.subarray(0, cut));
      let names: Array<string | null> = [];
      assert.doesNotThrow(() => (names = extract(c.bytes, cut)), `${what} cut at ${cut}`);
      for (const n of names) if (n !== null) assert.match(n, NAME);
      assert.deepEqual(c.bad, [], `${what} cut at ${cut}: read outside the payload`);
    }
  }
});

const mutated = fc
  .record({
    seed: fc.integer({ min: 0, max: SEEDS.length - 1 }),
    edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
    cut: fc.nat(),
  })
  .map(({ seed, edits, cut }) => {
    const { link, frame } = SEEDS[seed]!;
    const b = frame.slice();
    for (const [i, v] of edits) b[i % b.length] = v;
    return { link, frame: b.subarray(0, b.length - (cut % Math.min(b.length, 64))) };
  });
const random = fc.record({ link: fc.constantFrom(...LINK_TYPES), frame: fc.uint8Array({ maxLength: 160 }) });

test('fuzz: decodePacket from an exact-length copy never throws and never reads beyond the packet', () => {
  const out = newDecodedPacket();
  fc.assert(
    fc.property(fc.oneof(mutated, random), fc.integer({ min: -1, max: 70000 }), ({ link, frame }, origLen) => {
      decodeExact(frame, link, origLen, out);
    }),
    { numRuns: 4000 },
  );
});

test('fuzz: with tunnels not opened (TunnelMode.Outer), decodePacket never throws or reads beyond the packet', () => {
  const out = newDecodedPacket();
  fc.assert(
    fc.property(fc.oneof(mutated, random), fc.integer({ min: -1, max: 70000 }), ({ link, frame }, origLen) => {
      decodeExact(frame, link, origLen, out, TunnelMode.Outer);
      assert.equal(out.tunnelType, TunnelType.None);
    }),
    { numRuns: 1500 },
  );
});

test('fuzz: inside a larger shared buffer, decodePacket never touches a byte outside [offset, end)', () => {
  const out = newDecodedPacket();
  fc.assert(
    fc.property(fc.oneof(mutated, random), fc.nat(16), fc.nat(16), fc.integer({ min: -1, max: 70000 }), ({ link, frame }, pre, post, origLen) => {
      const s = sharedCopy(frame, pre, post);
      const status = decodePacket(s.view, s.bytes, s.lo, s.hi, link, origLen, out);
      checkDecoded(status, out, s.lo, s.hi);
      assert.deepEqual(s.bad, []);
    }),
    { numRuns: 3000 },
  );
});

test('fuzz: name extractors never throw or read outside their range on hostile payloads', () => {
  const payloads = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.tuple(fc.constantFrom(tlsClientHello('x.example'), DNS_COMPRESSED, dnsTcp(DNS_COMPRESSED), HTTP, HTTP6), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 4 })).map(([b, edits]) => {
      const c = b.slice();
      for (const [i, v] of edits) c[i % c.length] = v;
      return c;
    }),
  );
  fc.assert(
    fc.property(payloads, fc.nat(8), fc.nat(8), fc.nat(64), (p, pre, post, nameAt) => {
      for (const c of [exactCopy(p), sharedCopy(p, pre, post)]) {
        const { lo, hi } = c;
        const names = [
          extractDnsQname(c.bytes, lo, hi, false),
          extractDnsQname(c.bytes, lo, hi, true),
          readDnsName(c.bytes, lo, lo + nameAt, hi),
          extractTlsSni(c.bytes, lo, hi),
          extractHttpHost(c.bytes, lo, hi),
        ];
        for (const name of names) if (name !== null) assert.match(name, NAME);
        assert.deepEqual(c.bad, []);
      }
    }),
    { numRuns: 3000 },
  );
});
