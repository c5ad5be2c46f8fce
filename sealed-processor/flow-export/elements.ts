/**
 * The information elements the decoders read (IANA "IPFIX Information Elements"; NetFlow v9
 * field types, RFC 3954 §8, use the same numbers for 1..127). Anything else is skipped by its
 * length. Never: decides semantics beyond "which field of ExportedFlow" — that is
 * record-fields.ts.
 */

/** RFC 7011 §7: a field length of 65535 means variable length, encoded in the record. */
export const VARIABLE_LENGTH = 65535;
/** RFC 5103 §6.1: the Private Enterprise Number of reverse information elements. */
export const REVERSE_PEN = 29305;
/** Element code of an RFC 5103 reverse element: its id | REVERSE_BIT. */
export const REVERSE_BIT = 0x10000;
/** Element code of a field no reader uses (other enterprises, NetFlow v9 scope fields). */
export const SKIP_FIELD = -1;

export const Ie = {
  octetDeltaCount: 1,
  packetDeltaCount: 2,
  protocolIdentifier: 4,
  ipClassOfService: 5,
  tcpControlBits: 6,
  sourceTransportPort: 7,
  sourceIPv4Address: 8,
  ingressInterface: 10,
  destinationTransportPort: 11,
  destinationIPv4Address: 12,
  egressInterface: 14,
  ipNextHopIPv4Address: 15,
  bgpSourceAsNumber: 16,
  bgpDestinationAsNumber: 17,
  bgpNextHopIPv4Address: 18,
  flowEndSysUpTime: 21,
  flowStartSysUpTime: 22,
  sourceIPv6Address: 27,
  destinationIPv6Address: 28,
  icmpTypeCodeIPv4: 32,
  samplingInterval: 34,
  samplingAlgorithm: 35,
  samplerId: 48,
  samplerMode: 49,
  samplerRandomInterval: 50,
  sourceMacAddress: 56,
  vlanId: 58,
  ipVersion: 60,
  ipNextHopIPv6Address: 62,
  bgpNextHopIPv6Address: 63,
  destinationMacAddress: 80,
  octetTotalCount: 85,
  packetTotalCount: 86,
  flowEndReason: 136,
  icmpTypeCodeIPv6: 139,
  flowStartSeconds: 150,
  flowEndSeconds: 151,
  flowStartMilliseconds: 152,
  flowEndMilliseconds: 153,
  flowStartMicroseconds: 154,
  flowEndMicroseconds: 155,
  flowStartNanoseconds: 156,
  flowEndNanoseconds: 157,
  flowStartDeltaMicroseconds: 158,
  flowEndDeltaMicroseconds: 159,
  systemInitTimeMilliseconds: 160,
  icmpTypeIPv4: 176,
  icmpCodeIPv4: 177,
  icmpTypeIPv6: 178,
  icmpCodeIPv6: 179,
  dot1qVlanId: 243,
  selectorId: 302,
  selectorAlgorithm: 304,
  samplingPacketInterval: 305,
  samplingPacketSpace: 306,
} as const;
