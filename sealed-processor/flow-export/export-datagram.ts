/**
 * The flow-export decoder entry: one NetFlow v5 / v9 / IPFIX datagram in, one `ExportedFlow`
 * per data record out, through the caller's `TemplateStore` (templates, samplers, held sets,
 * counters by reason — see export-counters.ts for the names).
 *
 * Never: throws for anything in the datagram, reads a clock (the receive time comes from the
 * spool record), or keeps a reference to `bytes` (held sets are copied).
 */
import type { EmitFlow } from './data-set.ts';
import type { ExporterAddress } from './exported-flow.ts';
import { decodeIpfix } from './ipfix.ts';
import { decodeNetflowV5 } from './netflow-v5.ts';
import { decodeNetflowV9 } from './netflow-v9.ts';
import type { TemplateStore } from './template-store.ts';

/**
 * Decodes one export datagram.
 * @param bytes the UDP payload (a view into a larger buffer is fine).
 * @param exporter source address (16 bytes, IPv4-mapped for IPv4) and UDP port.
 * @param receiveTimeUs receive time, µs since epoch: ages held sets (no clock is read).
 * @param emit called once per data record with the store's reused `ExportedFlow`: copy what you
 *   keep before it returns. Exceptions it throws propagate (they are the caller's bugs).
 * @returns the number of flows emitted (held sets decoded now included).
 */
export function decodeExportDatagram(bytes: Uint8Array, exporter: ExporterAddress, receiveTimeUs: number, store: TemplateStore, emit: EmitFlow): number {
  if (exporter.address.length !== 16) throw new TypeError('decodeExportDatagram: exporter address must be 16 bytes');
  store.counters.datagrams++;
  store.expirePending(receiveTimeUs);
  const before = store.counters.flows;
  if (bytes.length < 2) {
    store.count(null, 'datagram_truncated');
    return 0;
  }
  const view = store.viewOf(bytes);
  const off = bytes.byteOffset;
  const end = off + bytes.length;
  switch (view.getUint16(off)) {
    case 5: decodeNetflowV5(view, off, end, exporter, receiveTimeUs, store, emit); break;
    case 9: decodeNetflowV9(view, off, end, exporter, receiveTimeUs, store, emit); break;
    case 10: decodeIpfix(view, off, end, exporter, receiveTimeUs, store, emit); break;
    default: store.count(null, 'unsupported_version');
  }
  return store.counters.flows - before;
}
