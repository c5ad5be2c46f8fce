/**
 * The client address of a request: the socket peer, as the runtime adapter reports it
 * (`hono/conninfo` helpers: api/adapters/*), unless that peer is a configured trusted proxy —
 * then the right-most `X-Forwarded-For` entry that is not itself a trusted proxy (each proxy
 * appends the address it received the request from, so everything left of the first untrusted
 * hop may have been written by the client). An entry that is not an address ends the walk at
 * the last trusted hop. Addresses are normalised (RFC 5952 text, IPv4-mapped IPv6 as IPv4,
 * zone and port removed). Used for the audit entry and the per-address limit on
 * unauthenticated requests; null when the runtime cannot tell.
 *
 * Owns: choosing and normalising the address, and the per-address bucket key. Never: believes
 * `X-Forwarded-For` from a peer that is not a trusted proxy, or keeps the header itself.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { formatIpv4 } from '../../schemas/ip-address.ts';
import { V4_MAPPED_LO, formatIpv6, parseAddress, parseCidr } from '../query/cidr.ts';
import type { Address128, CidrRange } from '../query/cidr.ts';
import type { AppEnv } from './context.ts';

/** Reads the socket peer's address from the runtime (undefined when it has none). */
export type PeerAddress = (c: Context<AppEnv>) => string | null | undefined;

/** `X-Forwarded-For` entries looked at, right to left, at most. */
const MAX_FORWARDED_HOPS = 32;

function isV4Mapped(a: Address128): boolean {
  return a.hi === 0n && a.lo >> 32n === 0xffffn;
}

/** Parses one address as written by sockets or proxies: `a.b.c.d`, `a.b.c.d:port`, `v6`, `[v6]`, `[v6]:port`, `v6%zone`. */
function parseLoose(text: string): Address128 | null {
  let t = text.trim();
  const bracket = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(t);
  if (bracket) t = bracket[1];
  else if (/^[0-9.]+:\d{1,5}$/.test(t)) t = t.slice(0, t.lastIndexOf(':'));
  const zone = t.indexOf('%');
  if (zone >= 0) t = t.slice(0, zone);
  if (t.length === 0 || t.length > 45) return null;
  const a = parseAddress(t);
  if (a === null) return null;
  // IPv4-mapped (a dual-stack socket's view of an IPv4 client) is the IPv4 address.
  return a.version === 6 && isV4Mapped(a) ? { version: 4, hi: 0n, lo: a.lo } : a;
}

function format(a: Address128): string {
  return a.version === 4 ? formatIpv4(Number(a.lo - V4_MAPPED_LO)) : formatIpv6(a.hi, a.lo);
}

/** Normalised address text, or null when `text` is not an address. */
export function normalizeAddress(text: string): string | null {
  const a = parseLoose(text);
  return a === null ? null : format(a);
}

/** Parsed trusted-proxy list. @throws TypeError for an entry that is not an address or CIDR (config validation prevents it). */
export function parseTrustedProxies(list: readonly string[]): readonly CidrRange[] {
  return list.map((entry) => {
    const range = parseCidr(entry);
    if (range === null) throw new TypeError('trustedProxies entry is not an address or CIDR');
    return range;
  });
}

function inRanges(a: Address128, ranges: readonly CidrRange[]): boolean {
  // Ranges and addresses share one 128-bit space (IPv4 as ::ffff:0:0/96).
  return ranges.some((r) => a.hi >= r.hiMin && a.hi <= r.hiMax && a.lo >= r.loMin && a.lo <= r.loMax);
}

/**
 * The client address for a request from `peer` carrying `forwardedFor` (the header's value,
 * several headers joined by commas). Null when the peer is unknown or not an address.
 */
export function resolveClientAddress(peer: string | null | undefined, forwardedFor: string | undefined, trusted: readonly CidrRange[]): string | null {
  const socket = peer ? parseLoose(peer) : null;
  if (socket === null) return null;
  let current = socket;
  if (forwardedFor !== undefined && trusted.length > 0 && inRanges(socket, trusted)) {
    const hops = forwardedFor.split(',').slice(-MAX_FORWARDED_HOPS);
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = parseLoose(hops[i]);
      if (hop === null) break;
      current = hop;
      if (!inRanges(hop, trusted)) break;
    }
  }
  return format(current);
}

/**
 * Bucket key of the per-address limit: the IPv4 address, or the /64 of an IPv6 address (one
 * host usually holds a whole /64, and could otherwise rotate through it).
 */
export function addressBucketKey(address: string): string {
  const a = parseLoose(address);
  if (a === null) return `ip|${address}`;
  return a.version === 4 ? `ip|${format(a)}` : `ip|${formatIpv6(a.hi, 0n)}/64`;
}

/** Middleware factory: sets `clientAddress` on the context (null when unknown). Never throws. */
export function clientAddress(options: { peer?: PeerAddress; trustedProxies: readonly string[] }): MiddlewareHandler<AppEnv> {
  const trusted = parseTrustedProxies(options.trustedProxies);
  const peerOf = options.peer;
  return async function clientAddressMiddleware(c, next) {
    let peer: string | null | undefined = null;
    try {
      peer = peerOf?.(c);
    } catch {
      peer = null;
    }
    c.set('clientAddress', resolveClientAddress(peer, c.req.header('X-Forwarded-For'), trusted));
    await next();
  };
}
