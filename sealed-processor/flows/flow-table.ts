/**
 * Bidirectional flow assembly (RFC 5103 biflows) from decoded packets.
 *
 * Owns: the flow key (canonical, so both directions meet: the two endpoints (address, port)
 * ordered, plus protocol, IP version, outer VLAN and an ICMP echo bit), initiator choice, per
 * direction packets/bytes/TCP flags, TCP connection boundaries, timeouts, eviction, fragment
 * attribution (fragment-map.ts) and the once-per-flow application-name lookup.
 *
 * Rules (chosen so each TCP connection is one record, as tshark's `conv,tcp` counts it):
 * - Initiator = sender of the first packet seen, except a first TCP SYN+ACK: then its receiver.
 * - TCP ends after FIN in both directions or an RST, but the flow stays (in a "closing" list)
 *   for `tcpFinGraceUs` after its last packet so the final ACK and stragglers land in it;
 *   reason 'fin' or 'rst' (whichever closed it first).
 * - A SYN without ACK whose sequence number differs from that direction's base sequence
 *   (Wireshark's port-reuse rule: base = SYN seq, else first seq - 1, else peer's ack - 1)
 *   ends the current flow (reason 'fin'/'rst' if it was closed, else 'idle') and starts a new one.
 * - ICMP/ICMPv6: echo request/reply keyed by (addresses, echo identifier); any other message by
 *   (addresses, type<<8|code). Records carry ports 0 and the first packet's type/code.
 * - Idle: `tcpIdleTimeoutUs` for open TCP, `idleTimeoutUs` for everything else (reason 'idle').
 *   Active: a packet arriving ≥ `activeTimeoutUs` after the record's first packet emits the
 *   record ('active') and restarts counting under the same key; learnt names carry over.
 * - Full table: the oldest closing flow, else the least recently seen flow, is evicted
 *   (reason 'idle', or its close reason) and counted in `counters.evicted`.
 * - Tunnels: a tunnelled packet counts as its inner flow (decode-packet.ts); the flow keeps the
 *   outermost tunnel of its first tunnelled packet (type and endpoints, initiator side first).
 *   The tunnel is not part of the key: the same inner conversation through two tunnels is one
 *   flow, as tshark's conversation tables count it.
 * - Names (DNS qname, TLS SNI, HTTP Host): the first of up to 4 payload-carrying TCP/UDP
 *   packets of a flow that yields one; each flow creates at most one name string.
 * - Expiry lists are ordered by last-seen arrival; slightly out-of-order timestamps only delay
 *   an expiry. Packets arriving after a closed flow was emitted start a new flow.
 * Time is whatever the caller passes (packet timestamps, µs); nothing reads a clock.
 * Never: allocates per packet on the common path, throws on packet content, or lets a
 * RawFlow escape beyond the `onFlow` call (it is one reused object).
 */
import type { EndReason } from '../../schemas/columns.ts';
import { AppNameKind, classifyAppPayload, extractAppName } from '../decode/app-name.ts';
import { IpProto, TcpFlag, TunnelType, type DecodedPacket } from '../decode/decoded-packet.ts';
import { exportFlow } from './flow-export.ts';
import { FlowIndex } from './flow-index.ts';
import { FlowKeyBuilder, KeyResult } from './flow-key.ts';
import { newRawFlow, type RawFlow } from './flow-record.ts';
import { FlowList, FlowStore, KEY_WORDS } from './flow-store.ts';
import { closeReason, isNewConnection, trackTcp } from './tcp-state.ts';
import { StateError, type StateReader, type StateWriter } from '../worker/state-bytes.ts';

/** Largest `TunnelType` value a checkpoint may carry. */
const MAX_TUNNEL_TYPE = Math.max(...Object.values(TunnelType));
/** Longest application name a checkpoint may carry (extracted names are at most 253 bytes). */
const MAX_STATE_NAME_BYTES = 255;
/** Packet times are whole µs of a u32 seconds timestamp. */
const MAX_STATE_TIME_US = 2 ** 32 * 1e6;

/** A restored number that must be a whole number in [min, max] (what the table itself produces). */
function whole(x: number, min: number, max: number, what: string): number {
  if (!(Number.isInteger(x) && x >= min && x <= max)) throw new StateError(`flow table: bad ${what}`);
  return x;
}

/** A MAC half (24 bits) or -1 (absent), as decoders produce them. */
function macHalf(x: number): number {
  return whole(x, -1, 0xffffff, 'MAC');
}

/** Options for `FlowTable`; all times in microseconds. */
export interface FlowTableOptions {
  /** Idle timeout of UDP, ICMP and other non-TCP flows. Default 60 s. */
  idleTimeoutUs?: number;
  /** Idle timeout of TCP flows not yet closed. Default 300 s. */
  tcpIdleTimeoutUs?: number;
  /** Longest record before it is emitted ('active') and continued. Default 1800 s. */
  activeTimeoutUs?: number;
  /** How long a closed (FIN both ways / RST) TCP flow keeps absorbing packets. Default 5 s. */
  tcpFinGraceUs?: number;
  /** Most live flows; beyond it the oldest is evicted. Default 1,000,000. */
  maxFlows?: number;
  /** `observe` runs `expire` when packet time advanced this much; 0 = only explicit calls. Default 1 s. */
  expireIntervalUs?: number;
  /** Entries of the fragment map. Default 4096. */
  fragmentMapSize?: number;
}

/** Diagnostics (counts only). */
export interface FlowTableCounters {
  packets: number;
  /** Packets without an IP layer passed to `observe`. */
  ignored: number;
  flowsCreated: number;
  flowsEmitted: number;
  emitted: Record<EndReason, number>;
  /** Flows ended early because the table was full. */
  evicted: number;
  /** New TCP connections detected on a live 5-tuple. */
  portReuse: number;
  fragmentsAttributed: number;
  fragmentsUnattributed: number;
  namesExtracted: number;
}

/** Payload packets examined for a name before giving up; `NAME_DONE` once found. */
const MAX_NAME_TRIES = 4;
const NAME_DONE = 255;

/** Assembles biflows; see the file comment for the rules. Single-threaded, synchronous. */
export class FlowTable {
  readonly counters: FlowTableCounters = {
    packets: 0,
    ignored: 0,
    flowsCreated: 0,
    flowsEmitted: 0,
    emitted: { idle: 0, active: 0, fin: 0, rst: 0, eof: 0 },
    evicted: 0,
    portReuse: 0,
    fragmentsAttributed: 0,
    fragmentsUnattributed: 0,
    namesExtracted: 0,
  };
  private readonly idleUs: number;
  private readonly tcpIdleUs: number;
  private readonly activeUs: number;
  private readonly graceUs: number;
  private readonly maxFlows: number;
  private readonly expireEveryUs: number;
  private nextExpireUs = -Infinity;
  private readonly store: FlowStore;
  private readonly index: FlowIndex;
  private readonly keys: FlowKeyBuilder;
  private readonly record: RawFlow = newRawFlow();
  private readonly onFlow: (flow: RawFlow) => void;

  /**
   * @param onFlow receives every finished record. The RawFlow object is reused: copy what you
   *   need before returning, and do not call back into this table from it.
   * @throws TypeError on a non-positive or non-finite option.
   */
  constructor(opts: FlowTableOptions, onFlow: (flow: RawFlow) => void) {
    this.idleUs = positive(opts.idleTimeoutUs ?? 60e6, 'idleTimeoutUs');
    this.tcpIdleUs = positive(opts.tcpIdleTimeoutUs ?? 300e6, 'tcpIdleTimeoutUs');
    this.activeUs = positive(opts.activeTimeoutUs ?? 1800e6, 'activeTimeoutUs');
    this.graceUs = positive(opts.tcpFinGraceUs ?? 5e6, 'tcpFinGraceUs');
    this.maxFlows = Math.floor(positive(opts.maxFlows ?? 1_000_000, 'maxFlows'));
    this.expireEveryUs = opts.expireIntervalUs ?? 1e6;
    if (!(this.expireEveryUs >= 0)) throw new TypeError('expireIntervalUs must be >= 0');
    const initial = Math.min(this.maxFlows, 16384);
    this.store = new FlowStore(initial);
    this.index = new FlowIndex(initial);
    this.keys = new FlowKeyBuilder(opts.fragmentMapSize ?? 4096);
    this.onFlow = onFlow;
  }

  /** Live flows. */
  get size(): number {
    return this.store.size;
  }

  /**
   * Adds one successfully decoded packet (decodePacket returned 0) seen at `tsUs`
   * (µs since epoch). Packets without IP are counted in `counters.ignored`.
   */
  observe(pkt: DecodedPacket, tsUs: number): void {
    const c = this.counters;
    if (pkt.ipVersion !== 4 && pkt.ipVersion !== 6) {
      c.ignored++;
      return;
    }
    c.packets++;
    if (this.expireEveryUs > 0 && tsUs >= this.nextExpireUs) {
      this.expire(tsUs);
      this.nextExpireUs = tsUs + this.expireEveryUs;
    }
    const result = this.keys.build(pkt, tsUs);
    if ((result & KeyResult.FragmentAttributed) !== 0) c.fragmentsAttributed++;
    else if ((result & KeyResult.FragmentUnattributed) !== 0) c.fragmentsUnattributed++;
    const srcIsA = (result & KeyResult.SrcIsA) !== 0;
    const key = this.keys.key;
    const hash = this.index.hashKey(key);
    const store = this.store;
    let id = this.index.find(key, hash, store.keys, store.hash);
    if (id >= 0) {
      const fwd = (srcIsA ? 1 : 0) === store.initIsA[id];
      if (pkt.protocol === IpProto.Tcp && isNewConnection(store, id, pkt, fwd)) {
        c.portReuse++;
        this.end(id, closeReason(store, id));
        id = -1;
      } else if (tsUs - store.times[id * 2] >= this.activeUs) {
        this.emit(id, 'active');
        this.restart(id, tsUs);
      }
    }
    if (id < 0) id = this.create(hash, pkt, srcIsA, tsUs);
    this.update(id, pkt, srcIsA, tsUs);
  }

  /** Ends every flow whose timeout has passed at `nowUs` (cheap: looks at list heads only). */
  expire(nowUs: number): void {
    this.expireList(FlowList.Closing, this.graceUs, nowUs);
    this.expireList(FlowList.Tcp, this.tcpIdleUs, nowUs);
    this.expireList(FlowList.Other, this.idleUs, nowUs);
  }

  /**
   * Ends every live flow (end of input): closed TCP flows keep their 'fin'/'rst' reason,
   * all others get `reason` (normally 'eof').
   */
  flush(reason: EndReason): void {
    for (const list of [FlowList.Closing, FlowList.Tcp, FlowList.Other]) {
      const head = this.store.head;
      while (head[list] !== -1) {
        const id = head[list];
        this.end(id, list === FlowList.Closing ? closeReason(this.store, id) : reason);
      }
    }
  }

  /**
   * The live flows and the fragment map as a checkpoint (worker-checkpoint.ts): the expiry
   * clock, then each expiry list head to tail with every field of each flow (slot ids and the
   * index are not written: `readState` rebuilds them under the new table's own hash salt), then
   * the fragment map. Counters are not written (the worker checkpoint carries its counts).
   */
  writeState(w: StateWriter): void {
    const s = this.store;
    w.f64(this.nextExpireUs);
    for (let list = 0; list < 3; list++) {
      let n = 0;
      for (let id = s.head[list]; id !== -1; id = s.next[id]) n++;
      w.u32(n);
      for (let id = s.head[list]; id !== -1; id = s.next[id]) {
        for (let k = 0; k < KEY_WORDS; k++) w.u32(s.keys[id * KEY_WORDS + k]);
        w.u8(s.initIsA[id]);
        for (let k = 0; k < 4; k++) w.i32(s.macs[id * 4 + k]);
        w.i16(s.icmp[id * 2]);
        w.i16(s.icmp[id * 2 + 1]);
        for (let k = 0; k < 4; k++) w.f64(s.counts[id * 4 + k]);
        w.f64(s.times[id * 2]);
        w.f64(s.times[id * 2 + 1]);
        w.u8(s.flags[id * 2]);
        w.u8(s.flags[id * 2 + 1]);
        w.u8(s.tcpState[id]);
        w.f64(s.baseSeq[id * 2]);
        w.f64(s.baseSeq[id * 2 + 1]);
        w.u8(s.appTries[id]);
        w.u8(s.tunnelType[id]);
        w.u8(s.tunnelVersion[id]);
        for (let k = 0; k < 8; k++) w.u32(s.tunnelAddrs[id * 8 + k]);
        w.optString(s.dnsQname[id]);
        w.optString(s.tlsSni[id]);
        w.optString(s.httpHost[id]);
      }
    }
    this.keys.fragments.writeState(w);
  }

  /**
   * Loads a checkpoint written by `writeState` into this table, which must be empty. Every
   * value is checked (counts, times, flag bytes, name lengths, duplicate keys, the table's own
   * `maxFlows`); on any problem it throws StateError and the table must be discarded.
   */
  readState(r: StateReader): void {
    const s = this.store;
    if (s.size !== 0) throw new TypeError('FlowTable.readState: table not empty');
    const clock = r.f64();
    if (clock !== -Infinity && !(Number.isInteger(clock) && Math.abs(clock) <= 2 * MAX_STATE_TIME_US)) throw new StateError('flow table: bad clock');
    this.nextExpireUs = clock;
    const key = new Uint32Array(KEY_WORDS);
    for (let list = 0 as FlowList; list < 3; list = (list + 1) as FlowList) {
      const n = r.count(this.maxFlows - s.size, 'flow table: flows');
      for (let i = 0; i < n; i++) {
        for (let k = 0; k < KEY_WORDS; k++) key[k] = r.u32();
        // Meta word: protocol (0-7), IPv6 (8), echo (9), VLAN + 1 (16-28, ≤ 4096); IPv4 keys
        // have nothing above their address word.
        const meta = key[9];
        if ((meta & 0xe000fc00) !== 0 || meta >>> 16 > 4096) throw new StateError('flow table: bad key');
        if ((meta & 0x100) === 0 && (key[0] | key[1] | key[2] | key[4] | key[5] | key[6]) !== 0) throw new StateError('flow table: bad key');
        const hash = this.index.hashKey(key);
        if (this.index.find(key, hash, s.keys, s.hash) !== -1) throw new StateError('flow table: duplicate key');
        if (s.size >= s.capacity) this.growStore();
        const id = s.alloc(list);
        s.keys.set(key, id * KEY_WORDS);
        s.hash[id] = hash;
        this.index.insert(id, hash);
        const initIsA = r.u8();
        if (initIsA > 1) throw new StateError('flow table: bad initiator');
        s.initIsA[id] = initIsA;
        for (let k = 0; k < 4; k++) s.macs[id * 4 + k] = macHalf(r.i32());
        s.icmp[id * 2] = whole(r.i16(), -1, 255, 'ICMP type');
        s.icmp[id * 2 + 1] = whole(r.i16(), -1, 255, 'ICMP code');
        for (let k = 0; k < 4; k++) s.counts[id * 4 + k] = whole(r.f64(), 0, Number.MAX_SAFE_INTEGER, 'count');
        s.times[id * 2] = whole(r.f64(), 0, MAX_STATE_TIME_US, 'time');
        s.times[id * 2 + 1] = whole(r.f64(), 0, MAX_STATE_TIME_US, 'time');
        if (s.times[id * 2 + 1] < s.times[id * 2]) throw new StateError('flow table: last before first');
        s.flags[id * 2] = r.u8();
        s.flags[id * 2 + 1] = r.u8();
        s.tcpState[id] = r.u8();
        s.baseSeq[id * 2] = whole(r.f64(), 0, 0xffffffff, 'sequence');
        s.baseSeq[id * 2 + 1] = whole(r.f64(), 0, 0xffffffff, 'sequence');
        const tries = r.u8();
        if (tries > MAX_NAME_TRIES && tries !== NAME_DONE) throw new StateError('flow table: bad name tries');
        s.appTries[id] = tries;
        const tunnelType = r.u8();
        const tunnelVersion = r.u8();
        if (tunnelType > MAX_TUNNEL_TYPE || (tunnelType === 0) !== (tunnelVersion === 0) || (tunnelVersion !== 0 && tunnelVersion !== 4 && tunnelVersion !== 6)) {
          throw new StateError('flow table: bad tunnel');
        }
        s.tunnelType[id] = tunnelType;
        s.tunnelVersion[id] = tunnelVersion;
        for (let k = 0; k < 8; k++) s.tunnelAddrs[id * 8 + k] = r.u32();
        if (tunnelVersion !== 6 && (s.tunnelAddrs[id * 8] | s.tunnelAddrs[id * 8 + 1] | s.tunnelAddrs[id * 8 + 2] | s.tunnelAddrs[id * 8 + 4] | s.tunnelAddrs[id * 8 + 5] | s.tunnelAddrs[id * 8 + 6]) !== 0) {
          throw new StateError('flow table: bad tunnel');
        }
        s.dnsQname[id] = r.optString(MAX_STATE_NAME_BYTES, 'flow table: name');
        s.tlsSni[id] = r.optString(MAX_STATE_NAME_BYTES, 'flow table: name');
        s.httpHost[id] = r.optString(MAX_STATE_NAME_BYTES, 'flow table: name');
      }
    }
    this.keys.fragments.readState(r);
  }

  private create(hash: number, pkt: DecodedPacket, srcIsA: boolean, tsUs: number): number {
    const store = this.store;
    if (store.size >= this.maxFlows) this.evictOne();
    if (store.size >= store.capacity) this.growStore();
    const tcp = pkt.protocol === IpProto.Tcp;
    const id = store.alloc(tcp ? FlowList.Tcp : FlowList.Other);
    store.keys.set(this.keys.key, id * KEY_WORDS);
    store.hash[id] = hash;
    this.index.insert(id, hash);
    // A first packet that is a SYN+ACK comes from the responder.
    const srcIsInit = !(tcp && (pkt.tcpFlags & (TcpFlag.Syn | TcpFlag.Ack)) === (TcpFlag.Syn | TcpFlag.Ack));
    store.initIsA[id] = srcIsInit === srcIsA ? 1 : 0;
    const m = id * 4;
    store.macs[m] = srcIsInit ? pkt.srcMacHi : pkt.dstMacHi;
    store.macs[m + 1] = srcIsInit ? pkt.srcMacLo : pkt.dstMacLo;
    store.macs[m + 2] = srcIsInit ? pkt.dstMacHi : pkt.srcMacHi;
    store.macs[m + 3] = srcIsInit ? pkt.dstMacLo : pkt.srcMacLo;
    store.icmp[id * 2] = pkt.icmpType;
    store.icmp[id * 2 + 1] = pkt.icmpCode;
    store.tcpState[id] = 0;
    store.appTries[id] = tcp || pkt.protocol === IpProto.Udp ? 0 : NAME_DONE;
    store.tunnelType[id] = 0;
    store.tunnelVersion[id] = 0;
    if (pkt.tunnelType !== 0) recordTunnel(store, id, pkt, srcIsInit);
    this.restart(id, tsUs);
    this.counters.flowsCreated++;
    return id;
  }

  /** Zeroes the counters of `id` and starts its record at `tsUs`. */
  private restart(id: number, tsUs: number): void {
    const s = this.store;
    s.counts.fill(0, id * 4, id * 4 + 4);
    s.flags[id * 2] = 0;
    s.flags[id * 2 + 1] = 0;
    s.times[id * 2] = tsUs;
    s.times[id * 2 + 1] = tsUs;
  }

  private update(id: number, pkt: DecodedPacket, srcIsA: boolean, tsUs: number): void {
    const s = this.store;
    const fwd = (srcIsA ? 1 : 0) === s.initIsA[id];
    const m = id * 4 + (fwd ? 0 : 2);
    s.counts[m]++;
    s.counts[m + 1] += pkt.ipBytes;
    s.flags[id * 2 + (fwd ? 0 : 1)] |= pkt.tcpFlags;
    if (tsUs > s.times[id * 2 + 1]) s.times[id * 2 + 1] = tsUs;
    else if (tsUs < s.times[id * 2]) s.times[id * 2] = tsUs;
    // Link types with one address (SLL) reveal the other side's MAC on a reverse packet.
    if (s.macs[m] === -1 && pkt.srcMacHi !== -1) {
      s.macs[m] = pkt.srcMacHi;
      s.macs[m + 1] = pkt.srcMacLo;
    }
    const other = id * 4 + (fwd ? 2 : 0);
    if (s.macs[other] === -1 && pkt.dstMacHi !== -1) {
      s.macs[other] = pkt.dstMacHi;
      s.macs[other + 1] = pkt.dstMacLo;
    }
    if (s.tunnelType[id] === 0 && pkt.tunnelType !== 0) recordTunnel(s, id, pkt, fwd);
    let list: FlowList = s.listOf[id] as FlowList;
    if (pkt.protocol === IpProto.Tcp) list = trackTcp(s, id, pkt, fwd);
    s.touch(id, list);
    if (s.appTries[id] < MAX_NAME_TRIES && pkt.payloadLength > 0) this.tryName(id, pkt);
  }

  private tryName(id: number, pkt: DecodedPacket): void {
    const s = this.store;
    s.appTries[id]++;
    const kind = classifyAppPayload(pkt);
    if (kind === AppNameKind.None) return;
    const name = extractAppName(pkt, kind);
    if (name === null) return;
    if (kind === AppNameKind.Dns) s.dnsQname[id] = name;
    else if (kind === AppNameKind.TlsSni) s.tlsSni[id] = name;
    else s.httpHost[id] = name;
    s.appTries[id] = NAME_DONE;
    this.counters.namesExtracted++;
  }

  private expireList(list: FlowList, timeoutUs: number, nowUs: number): void {
    const s = this.store;
    for (let id = s.head[list]; id !== -1 && s.times[id * 2 + 1] + timeoutUs <= nowUs; id = s.head[list]) {
      this.end(id, list === FlowList.Closing ? closeReason(this.store, id) : 'idle');
    }
  }

  private evictOne(): void {
    const s = this.store;
    let id = s.head[FlowList.Closing];
    let reason: EndReason = 'idle';
    if (id !== -1) reason = closeReason(this.store, id);
    else {
      const a = s.head[FlowList.Tcp];
      const b = s.head[FlowList.Other];
      id = a === -1 || (b !== -1 && s.times[b * 2 + 1] < s.times[a * 2 + 1]) ? b : a;
    }
    this.counters.evicted++;
    this.end(id, reason);
  }

  private growStore(): void {
    const s = this.store;
    const capacity = Math.min(this.maxFlows, s.capacity * 2);
    const live = new Int32Array(s.size);
    let n = 0;
    for (let list = 0; list < 3; list++) for (let id = s.head[list]; id !== -1; id = s.next[id]) live[n++] = id;
    s.grow(capacity);
    this.index.rebuild(capacity, live, s.hash);
  }

  private emit(id: number, reason: EndReason): void {
    exportFlow(this.store, id, reason, this.record);
    this.counters.flowsEmitted++;
    this.counters.emitted[reason]++;
    this.onFlow(this.record);
  }

  private end(id: number, reason: EndReason): void {
    this.emit(id, reason);
    this.index.remove(id, this.store.hash[id], this.store.hash);
    this.store.release(id);
  }
}

/** Keeps the packet's outermost tunnel and endpoints, initiator side first (`senderIsInit`). */
function recordTunnel(s: FlowStore, id: number, pkt: DecodedPacket, senderIsInit: boolean): void {
  s.tunnelType[id] = pkt.tunnelType;
  s.tunnelVersion[id] = pkt.tunnelVersion;
  const t = id * 8;
  const init = senderIsInit ? t : t + 4;
  const resp = senderIsInit ? t + 4 : t;
  const a = s.tunnelAddrs;
  if (pkt.tunnelVersion === 6) {
    for (let i = 0; i < 4; i++) {
      a[init + i] = pkt.tunnelSrc6[i];
      a[resp + i] = pkt.tunnelDst6[i];
    }
  } else {
    a[init] = a[init + 1] = a[init + 2] = 0;
    a[resp] = a[resp + 1] = a[resp + 2] = 0;
    a[init + 3] = pkt.tunnelSrcV4;
    a[resp + 3] = pkt.tunnelDstV4;
  }
}

function positive(value: number, name: string): number {
  if (!(value > 0) || !Number.isFinite(value)) throw new TypeError(`${name} must be a positive finite number`);
  return value;
}
