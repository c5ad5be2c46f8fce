import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { classifyAppPayload, extractAppName, AppNameKind } from './app-name.ts';
import { decodePacket } from './decode-packet.ts';
import { LinkType, newDecodedPacket } from './decoded-packet.ts';
import { extractDnsQname } from './dns-name.ts';
import { extractHttpHost } from './http-host.ts';
import { extractTlsSni } from './tls-sni.ts';
import {
  dnsMessage,
  dnsName,
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

/** Bounds-recording stand-ins: any read outside [lo, hi) is a failure. */
function guarded(buf: Uint8Array, lo: number, hi: number) {
  const bad: number[] = [];
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const check = (o: number, n: number) => {
    if (!(o >= lo && o + n <= hi)) bad.push(o);
  };
  const view = {
    byteLength: buf.byteLength,
    getUint8: (o: number) => (check(o, 1), dv.getUint8(o)),
    getUint16: (o: number, le?: boolean) => (check(o, 2), dv.getUint16(o, le)),
    getUint32: (o: number, le?: boolean) => (check(o, 4), dv.getUint32(o, le)),
  } as unknown as DataView;
  const bytes = new Proxy(buf, {
    get(target, prop) {
      if (typeof prop === 'string' && /^\d+$/.test(prop)) check(Number(prop), 1);
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { view, bytes, bad };
}

const v4 = (proto: number, l4: Uint8Array) => ipv4({ src: '10.0.0.1', dst: '10.0.0.2', protocol: proto, id: 5 }, l4);
const v6 = (next: number, l4: Uint8Array, ext = [{ type: 0 }, { type: 44, fragment: { offset: 0, more: true, id: 9 } }]) =>
  ipv6({ src: '2001:db8::1', dst: '2001:db8::2', nextHeader: next, ext }, l4);
const E = (p: Uint8Array, type = 0x0800) => ethernet({ dst: '02:00:00:00:00:01', src: '02:00:00:00:00:02', etherType: type, vlans: [{ tpid: 0x8100, vid: 3 }] }, p);

const seeds: Array<[number, Uint8Array]> = [
  [LinkType.Ethernet, E(v4(6, tcp({ sport: 1234, dport: 443, flags: 0x18 }, tlsClientHello('fuzz.example'))))],
  [LinkType.Ethernet, E(v4(6, tcp({ sport: 1234, dport: 80, flags: 0x18 }, text('GET / HTTP/1.1\r\nHost: fuzz.example\r\n\r\n'))))],
  [LinkType.Ethernet, E(v6(17, udp({ sport: 5353, dport: 53 }, dnsMessage(dnsName('a.fuzz.example')))), 0x86dd)],
  [LinkType.LinuxSll, linuxSll({ protocol: 0x0800, addr: [1, 2, 3, 4, 5, 6] }, v4(1, icmp({ type: 8, code: 0, id: 1 })))],
  [LinkType.LinuxSll2, linuxSll2({ protocol: 0x86dd, addr: [1, 2, 3, 4, 5, 6] }, v6(58, icmp({ type: 128, code: 0, id: 1 })))],
  [LinkType.Null, loopback(30, true, v6(6, tcp({ sport: 1, dport: 53, flags: 0x18 }, new Uint8Array([0, 20, ...dnsMessage(dnsName('t.example'))]))))],
  [LinkType.Loop, loopback(2, false, v4(17, udp({ sport: 7, dport: 8 }, new Uint8Array(10))))],
  [LinkType.Raw, v6(51, new Uint8Array(40), [{ type: 60 }, { type: 43 }])],
  [LinkType.Ipv4, ipv4({ src: '1.1.1.1', dst: '2.2.2.2', protocol: 6, options: [7, 3, 4, 0] }, tcp({ sport: 1, dport: 2, flags: 2, options: [1, 1, 1, 1] }))],
];
const linkTypes = [0, 1, 101, 108, 113, 228, 229, 276, 7];

const mutated = fc
  .record({
    seed: fc.integer({ min: 0, max: seeds.length - 1 }),
    edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
    cut: fc.nat(),
  })
  .map(({ seed, edits, cut }) => {
    const [link, frame] = seeds[seed];
    const b = frame.slice();
    for (const [i, v] of edits) b[i % b.length] = v;
    return { link, frame: b.subarray(0, b.length - (cut % Math.min(b.length, 64))) };
  });
const random = fc.record({ link: fc.constantFrom(...linkTypes), frame: fc.uint8Array({ maxLength: 160 }) });

test('decodePacket never throws and never reads outside [offset, end)', () => {
  const out = newDecodedPacket();
  fc.assert(
    fc.property(fc.oneof(mutated, random), fc.nat(16), fc.nat(16), fc.integer({ min: -1, max: 70000 }), ({ link, frame }, pre, post, origLen) => {
      const buf = new Uint8Array(pre + frame.length + post).fill(0xa5);
      buf.set(frame, pre);
      const g = guarded(buf, pre, pre + frame.length);
      const status = decodePacket(g.view, g.bytes, pre, pre + frame.length, link, origLen, out);
      assert.ok(Number.isInteger(status) && status <= 0 && status >= -10);
      if (status === 0) {
        assert.ok(out.ipVersion === 4 || out.ipVersion === 6);
        assert.ok(out.payloadLength >= 0 && out.payloadOffset + out.payloadLength <= pre + frame.length);
        assert.ok(out.ipBytes >= 0);
        const kind = classifyAppPayload(out);
        if (kind !== AppNameKind.None) {
          const name = extractAppName(out, kind);
          if (name !== null) assert.match(name, /^[\x21-\x40\x5b-\x7e]{1,253}$/);
        }
      }
      assert.deepEqual(g.bad, []);
    }),
    { numRuns: 4000 },
  );
});

test('name extractors never throw or read outside their range on hostile payloads', () => {
  const payloads = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.tuple(fc.constantFrom(tlsClientHello('x.example'), dnsMessage(dnsName('q.example')), text('GET / HTTP/1.1\r\nHost: h.example\r\n\r\n')), fc.array(fc.tuple(fc.nat(), fc.nat(255)), { maxLength: 4 })).map(([b, edits]) => {
      const c = b.slice();
      for (const [i, v] of edits) c[i % c.length] = v;
      return c;
    }),
  );
  fc.assert(
    fc.property(payloads, fc.nat(8), fc.boolean(), (p, pre, prefixed) => {
      const buf = new Uint8Array(pre + p.length + 8).fill(0xc0);
      buf.set(p, pre);
      const g = guarded(buf, pre, pre + p.length);
      for (const name of [
        extractDnsQname(g.bytes, pre, pre + p.length, prefixed),
        extractTlsSni(g.bytes, pre, pre + p.length),
        extractHttpHost(g.bytes, pre, pre + p.length),
      ]) {
        if (name !== null) assert.match(name, /^[\x21-\x40\x5b-\x7e]{1,253}$/);
      }
      assert.deepEqual(g.bad, []);
    }),
    { numRuns: 3000 },
  );
});
