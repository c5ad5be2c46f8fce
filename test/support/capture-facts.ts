// What is known about each real capture in test/fixtures/ (made by make-captures.sh): file,
// link types, counts and the names its clients used, plus the raw identifiers (IP, MAC, names)
// any file contains, read with tshark (leak-search.ts turns them into search forms).
// It reads fixtures only; it never writes files and never resolves names over the network.
// The counts describe the committed files: regenerating the captures means updating them
// (capture-facts.test.ts checks every number against tshark).
import { fileURLToPath } from 'node:url';
import { tsharkFields } from './tshark.ts';
import { ipv4Bytes, ipv6Bytes } from './leak-search.ts';

/** pcap/pcapng link-layer header types (LINKTYPE_* from tcpdump.org). */
export const LinkType = { Ethernet: 1, LinuxSll: 113, LinuxSll2: 276 } as const;

/** Facts about one fixture capture. */
export type FixtureFacts = {
  /** File name inside test/fixtures/. */
  file: string;
  format: 'pcap' | 'pcapng';
  /** Link types of its interfaces, in interface order (pcap files have one). */
  linkTypes: readonly number[];
  description: string;
  packets: number;
  /** Rows of `tshark -z conv,tcp` / `conv,udp`. */
  tcpConversations: number;
  udpConversations: number;
  /** 802.1Q VLAN ids present. */
  vlanIds: readonly number[];
  /** Distinct DNS query names, TLS SNI values and HTTP Host names (without port). */
  dnsQueryNames: readonly string[];
  tlsSni: readonly string[];
  httpHosts: readonly string[];
};

/** Absolute path of test/fixtures/ (no trailing slash). */
export const FIXTURES_DIR = fileURLToPath(new URL('../fixtures', import.meta.url));

/** Absolute path of a fixture file. */
export function fixturePath(file: string): string {
  return `${FIXTURES_DIR}/${file}`;
}

/** Every real capture fixture, with the facts tests may rely on. */
export const FIXTURES: readonly FixtureFacts[] = [
  {
    file: 'http-lo.pcap',
    format: 'pcap',
    linkTypes: [LinkType.Ethernet],
    description:
      'tcpdump -i lo (Ethernet, zero MACs): curl <-> nginx, 5 TCP connections: one request; ' +
      'keep-alive with 4 requests (incl. a 404); a ~183 KB response; HEAD by address; one over ::1',
    packets: 68,
    tcpConversations: 5,
    udpConversations: 0,
    vlanIds: [],
    dnsQueryNames: [],
    tlsSni: [],
    httpHosts: ['www.example.test', 'www6.example.test', '127.0.0.1'],
  },
  {
    file: 'sll2-any.pcap',
    format: 'pcap',
    linkTypes: [LinkType.LinuxSll2],
    description: 'tcpdump -i any (Linux cooked v2): two curl <-> nginx HTTP exchanges over 127.0.0.1',
    packets: 19,
    tcpConversations: 2,
    udpConversations: 0,
    vlanIds: [],
    dnsQueryNames: [],
    tlsSni: [],
    httpHosts: ['www.example.test'],
  },
  {
    file: 'dns-ns.pcapng',
    format: 'pcapng',
    linkTypes: [LinkType.Ethernet],
    description:
      'dumpcap on a veth between two namespaces: dig <-> dnsmasq over UDP (IPv4 and IPv6) and ' +
      'one query over TCP, ping and ping -6, plus ARP/NDP/MLD/RS the kernel sent',
    packets: 54,
    tcpConversations: 1,
    udpConversations: 9,
    vlanIds: [],
    dnsQueryNames: [
      'api.example.test', 'corp.test', 'info.corp.test', 'mail.corp.test', 'unknown.invalid',
      'www.corp.test', 'www.example.test',
    ],
    tlsSni: [],
    httpHosts: [],
  },
  {
    file: 'vlan-tls.pcap',
    format: 'pcap',
    linkTypes: [LinkType.Ethernet],
    description:
      'tcpdump on a veth carrying VLAN 42 between two namespaces: curl -k <-> openssl s_server ' +
      '(TLS 1.3 and TLS 1.2, SNI in each ClientHello), a 3-datagram UDP echo, ping',
    packets: 55,
    tcpConversations: 2,
    udpConversations: 1,
    vlanIds: [42],
    dnsQueryNames: [],
    tlsSni: ['login.example.test', 'secure.example.test'],
    httpHosts: [],
  },
  {
    file: 'multi-if.pcapng',
    format: 'pcapng',
    linkTypes: [LinkType.Ethernet, LinkType.LinuxSll],
    description:
      'dumpcap with two interfaces in one file: veth (Ethernet, ICMP/ICMPv6 echo) and any ' +
      '(Linux cooked v1, DNS over UDP); packets are in arrival order, not time order',
    packets: 13,
    tcpConversations: 0,
    udpConversations: 2,
    vlanIds: [],
    dnsQueryNames: ['www.corp.test', 'www.example.test'],
    tlsSni: [],
    httpHosts: [],
  },
];

/** Raw identifiers present in a capture, each list distinct and sorted. */
export type RawIdentifiers = { ips: string[]; macs: string[]; names: string[] };

const IP_FIELDS = [
  'ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst', 'arp.src.proto_ipv4', 'arp.dst.proto_ipv4',
  'dns.a', 'dns.aaaa', 'icmpv6.nd.ns.target_address', 'icmpv6.nd.na.target_address',
] as const;
const MAC_FIELDS = ['eth.src', 'eth.dst', 'sll.src.eth', 'arp.src.hw_mac', 'arp.dst.hw_mac', 'icmpv6.opt.linkaddr'] as const;
const NAME_FIELDS = [
  'dns.qry.name', 'dns.resp.name', 'dns.mx.mail_exchange', 'tls.handshake.extensions_server_name',
  'http.host', 'x509ce.dNSName',
] as const;

/**
 * Every IP address, MAC address and host name in `file` as tshark dissects it (every
 * occurrence of each field, DNS answers, ARP/NDP payloads and certificate names included).
 * MACs and names are lower-cased; HTTP Host values lose their `:port` and go to `ips` when
 * they are address literals; the DNS root placeholder is skipped. Special values (loopback,
 * multicast, zero MAC…) are included: filter them with `specialIdentifier` if the policy
 * under test keeps them.
 * @throws Error when tshark fails.
 */
export async function rawIdentifiers(file: string): Promise<RawIdentifiers> {
  const ips = new Set<string>();
  const macs = new Set<string>();
  const names = new Set<string>();
  const fields: string[] = [...IP_FIELDS, ...MAC_FIELDS, ...NAME_FIELDS];
  const nIp = IP_FIELDS.length;
  const nMac = MAC_FIELDS.length;
  await tsharkFields(
    file,
    fields,
    (cols) => {
      for (let c = 0; c < cols.length; c++) {
        for (const v of cols[c].split('|')) {
          if (!v) continue;
          if (c < nIp) ips.add(v);
          else if (c < nIp + nMac) macs.add(v.toLowerCase());
          else {
            const name = (fields[c] === 'http.host' ? stripPort(v) : v).toLowerCase();
            if (/^[\d.]+$|:/.test(name)) ips.add(name); // Host: 127.0.0.1 is an address
            else if (name && name !== '<root>') names.add(name);
          }
        }
      }
    },
    { allOccurrences: true },
  );
  const sorted = (set: Set<string>) => [...set].sort();
  return { ips: sorted(ips), macs: sorted(macs), names: sorted(names) };
}

function stripPort(host: string): string {
  if (host.startsWith('[')) return host.slice(1, host.indexOf(']'));
  const i = host.lastIndexOf(':');
  return i > 0 && host.indexOf(':') === i ? host.slice(0, i) : host;
}

/** Why an identifier may legitimately survive anonymization under some policies. */
export type SpecialKind = 'unspecified' | 'loopback' | 'multicast' | 'broadcast' | 'link-local' | 'zero-mac';

/**
 * Classifies an IP/MAC text as special (kept as-is by some policies), or null for an
 * ordinary unicast identifier. Names are never special.
 */
export function specialIdentifier(value: string): SpecialKind | null {
  if (/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(value)) {
    const v = value.toLowerCase();
    if (v === '00:00:00:00:00:00') return 'zero-mac';
    if (v === 'ff:ff:ff:ff:ff:ff') return 'broadcast';
    return parseInt(v.slice(0, 2), 16) & 1 ? 'multicast' : null;
  }
  if (value.includes(':')) {
    const b = ipv6Bytes(value);
    if (b.every((x) => x === 0)) return 'unspecified';
    if (b.slice(0, 15).every((x) => x === 0) && b[15] === 1) return 'loopback';
    if (b[0] === 0xff) return 'multicast';
    if (b[0] === 0xfe && (b[1] & 0xc0) === 0x80) return 'link-local';
    return null;
  }
  const [a, b] = ipv4Bytes(value);
  if (value === '0.0.0.0') return 'unspecified';
  if (value === '255.255.255.255') return 'broadcast';
  if (a === 127) return 'loopback';
  if (a >= 224 && a <= 239) return 'multicast';
  if (a === 169 && b === 254) return 'link-local';
  return null;
}
