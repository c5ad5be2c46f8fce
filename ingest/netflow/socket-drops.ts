/**
 * What the kernel dropped before the collector saw it: Linux counts, per UDP socket, the
 * datagrams refused because the socket's receive buffer was full (`drops`, the last column of
 * /proc/net/udp and /proc/net/udp6), and shows the bytes waiting in it (`rx_queue`).
 *
 * Owns: reading and parsing those two columns for one local port. Best effort: elsewhere
 * (no /proc, another OS) it reports `null` and the collector says kernel drops are unknown.
 * Never: reads any other socket's addresses into a message or a log (only the two counts of
 * the line whose local port is ours leave this file).
 */
import { readFile } from 'node:fs/promises';

export interface KernelSocketCounts {
  /** Datagrams the kernel dropped for this socket since it was opened. */
  drops: number;
  /** Bytes waiting in the receive buffer now. */
  queuedBytes: number;
}

/**
 * Parses /proc/net/udp{,6} text for the socket bound to local port `port`. Returns null when no
 * line matches. Several matches (SO_REUSEPORT) are summed.
 */
export function parseProcNetUdp(text: string, port: number): KernelSocketCounts | null {
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  let matched = false;
  let drops = 0;
  let queuedBytes = 0;
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ref pointer drops
    if (f.length < 13 || !/^\d+:$/.test(f[0]!)) continue;
    const local = f[1]!;
    if (local.slice(local.lastIndexOf(':') + 1) !== portHex) continue;
    const rx = parseInt(f[4]!.split(':')[1] ?? '0', 16);
    const d = Number(f[f.length - 1]);
    if (!Number.isFinite(d)) continue;
    matched = true;
    drops += d;
    queuedBytes += Number.isFinite(rx) ? rx : 0;
  }
  return matched ? { drops, queuedBytes } : null;
}

/** Reads the kernel's counts for our socket (`family` 4 or 6, bound to `port`); null if unknown. */
export async function readKernelSocketCounts(family: 4 | 6, port: number): Promise<KernelSocketCounts | null> {
  try {
    return parseProcNetUdp(await readFile(family === 6 ? '/proc/net/udp6' : '/proc/net/udp', 'utf8'), port);
  } catch {
    return null;
  }
}
