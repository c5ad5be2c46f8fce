/**
 * TCP connection boundaries inside the flow table: FIN/RST state and Wireshark's port-reuse
 * rule, kept in `FlowStore.tcpState` / `FlowStore.baseSeq`.
 *
 * Owns: the state bits, when a flow enters the closing list, which end reason a closed flow
 * gets, and whether a SYN starts a new connection on a live 5-tuple. Base sequence per
 * direction follows Wireshark's tcp analysis: a SYN's seq, else the first seq - 1, else the
 * peer's first ack - 1 (so a SYN retransmission is not a new connection, a new ISN is).
 * Never: allocates or reads a clock.
 */
import type { EndReason } from '../../schemas/columns.ts';
import { TcpFlag, type DecodedPacket } from '../decode/decoded-packet.ts';
import { FlowList, type FlowStore } from './flow-store.ts';

const FIN_FWD = 1;
const FIN_REV = 2;
const CLOSED_BY_RST = 4;
const CLOSING = 8;
const BASE_FWD = 16;
const BASE_REV = 32;

/** Updates state bits and base sequence numbers of `id`; returns the list it belongs in. */
export function trackTcp(s: FlowStore, id: number, pkt: DecodedPacket, fwd: boolean): FlowList {
  const f = pkt.tcpFlags;
  let st = s.tcpState[id];
  const own = fwd ? BASE_FWD : BASE_REV;
  const peer = fwd ? BASE_REV : BASE_FWD;
  if ((st & own) === 0) {
    s.baseSeq[id * 2 + (fwd ? 0 : 1)] = (f & TcpFlag.Syn) !== 0 ? pkt.tcpSeq : (pkt.tcpSeq - 1) >>> 0;
    st |= own;
  }
  if ((f & TcpFlag.Ack) !== 0 && (st & peer) === 0) {
    s.baseSeq[id * 2 + (fwd ? 1 : 0)] = (pkt.tcpAck - 1) >>> 0;
    st |= peer;
  }
  if ((f & TcpFlag.Fin) !== 0) st |= fwd ? FIN_FWD : FIN_REV;
  if ((st & CLOSING) === 0) {
    if ((f & TcpFlag.Rst) !== 0) st |= CLOSED_BY_RST | CLOSING;
    else if ((st & (FIN_FWD | FIN_REV)) === (FIN_FWD | FIN_REV)) st |= CLOSING;
  }
  s.tcpState[id] = st;
  return (st & CLOSING) !== 0 ? FlowList.Closing : FlowList.Tcp;
}

/** True for a SYN (no ACK) whose seq differs from its direction's known base sequence. */
export function isNewConnection(s: FlowStore, id: number, pkt: DecodedPacket, fwd: boolean): boolean {
  if ((pkt.tcpFlags & (TcpFlag.Syn | TcpFlag.Ack)) !== TcpFlag.Syn) return false;
  if ((s.tcpState[id] & (fwd ? BASE_FWD : BASE_REV)) === 0) return false;
  return s.baseSeq[id * 2 + (fwd ? 0 : 1)] !== pkt.tcpSeq;
}

/** 'rst' / 'fin' for a closed flow, 'idle' for one that never closed (also non-TCP: state 0). */
export function closeReason(s: FlowStore, id: number): EndReason {
  const st = s.tcpState[id];
  if ((st & CLOSED_BY_RST) !== 0) return 'rst';
  if ((st & CLOSING) !== 0) return 'fin';
  return 'idle';
}
