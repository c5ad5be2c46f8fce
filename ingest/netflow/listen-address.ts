/**
 * Command-line text for the collector's endpoints: a listen address (`127.0.0.1:2055`,
 * `[::1]:2055`, `0.0.0.0:9995`, `[::]:4739`) and a UDP port (`--port`).
 *
 * Owns: parsing and the errors that say what was wrong (the address part, the port part, the
 * brackets). Pure: no IO. Never: echoes more than a short prefix of what it was given.
 */
import { AppError, ErrorCode } from '../../schemas/errors.ts';
import { parseIpv4, parseIpv6 } from '../../schemas/ip-address.ts';

/** A socket address to bind: `family` says which socket type (`udp4` / `udp6`) to open. */
export interface ListenAddress {
  readonly family: 4 | 6;
  /** The address as given, without brackets (what `socket.bind` takes). */
  readonly host: string;
  /** 0-65535; 0 binds an ephemeral port (the collector reports which). */
  readonly port: number;
}

/** The collector's default, as nfcapd's: loopback only, the NetFlow port. */
export const DEFAULT_LISTEN = '127.0.0.1:2055';

function shown(text: string): string {
  return text.length > 48 ? `${text.slice(0, 48)}…` : text;
}

/**
 * Parses a UDP port. `allowZero` accepts 0 (bind any free port).
 * @throws AppError ERR_PORT_INVALID naming `what` (e.g. `--port`) and the allowed range.
 */
export function parsePort(text: string, what: string, allowZero: boolean): number {
  const min = allowZero ? 0 : 1;
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535 || Number(text) < min) {
    throw new AppError(ErrorCode.PortInvalid, `${what}: port '${shown(text)}' is not an integer from ${min} to 65535`, { details: { option: what } });
  }
  return Number(text);
}

/**
 * Parses `IPv4:port` or `[IPv6]:port` (RFC 3986 §3.2.2 brackets). A port is required; 0 picks
 * a free one.
 * @throws AppError ERR_LISTEN_ADDRESS_INVALID when the shape or the address is wrong,
 *   ERR_PORT_INVALID when only the port is.
 */
export function parseListenAddress(text: string, what = '--listen'): ListenAddress {
  const bad = (why: string) =>
    new AppError(ErrorCode.ListenAddressInvalid, `${what}: '${shown(text)}' ${why} (expected IPv4:port or [IPv6]:port, e.g. 127.0.0.1:2055 or [::1]:2055)`, {
      details: { option: what },
    });
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) throw bad('has no closing ] after the IPv6 address');
    host = text.slice(1, close);
    if (text[close + 1] !== ':') throw bad('has no :port after the ]');
    portText = text.slice(close + 2);
    if (!parseIpv6(host, new Uint32Array(4))) throw bad('does not hold a valid IPv6 address in brackets');
    return { family: 6, host, port: parsePort(portText, what, true) };
  }
  const colon = text.lastIndexOf(':');
  if (colon < 0) throw bad('has no :port');
  if (text.indexOf(':') !== colon) throw bad('looks like a bare IPv6 address: put it in brackets');
  host = text.slice(0, colon);
  portText = text.slice(colon + 1);
  if (parseIpv4(host) === null) throw bad('does not start with a valid IPv4 address');
  return { family: 4, host, port: parsePort(portText, what, true) };
}

/** `host:port` / `[host]:port` as text (for diagnostics: our own bind address, not traffic). */
export function formatListenAddress(a: { family: 4 | 6; host: string; port: number }): string {
  return a.family === 6 ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
