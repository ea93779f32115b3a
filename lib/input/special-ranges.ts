// Which IP addresses are not public, by table. ipaddr.js's range() is not
// enough for the SSRF guard: it calls the IPv4-compatible block ::/96
// ([::127.0.0.1] is written [::7f00:1] by the URL parser) plain "unicast", and
// it parses "::a.b.c.d" as IPv4-mapped, so a check that trusts it passes
// addresses the kernel still routes to internal hosts. This table follows
// IANA's registries (as of 2025):
//   - IANA IPv4 Special-Purpose Address Registry (RFC 6890, RFC 8190)
//     https://www.iana.org/assignments/iana-ipv4-special-registry/
//   - IANA IPv6 Special-Purpose Address Registry (RFC 6890, RFC 8190)
//     https://www.iana.org/assignments/iana-ipv6-special-registry/
//   - IANA IPv4 Multicast Address Space Registry (224.0.0.0/4, RFC 5771)
//     https://www.iana.org/assignments/multicast-addresses/
//   - IANA Internet Protocol Version 6 Address Space (only 2000::/3 is global
//     unicast; fc00::/7, fe80::/10, fec0::/10 (deprecated, RFC 3879), ff00::/8
//     and the rest are not) https://www.iana.org/assignments/ipv6-address-space/
// Every entry is refused, including the few the registries mark globally
// reachable (anycast services such as AS112 or AMT): no image is served there.
// Three IPv6 blocks carry an IPv4 address and are judged by it instead:
// IPv4-mapped ::ffff:0:0/96, NAT64 64:ff9b::/96 (on DNS64 networks every public
// host resolves into it), 6to4 2002::/16 and Teredo 2001::/32 (server and
// client addresses; the client's is stored inverted, RFC 4380).
import ipaddr from 'ipaddr.js';

type Addr = ipaddr.IPv4 | ipaddr.IPv6;

/** A range, the kind of address it holds (with its article, for messages) and the RFC that reserves it. */
interface Entry { cidr: string; kind: string; ref: string }

const IPV4: readonly Entry[] = [
  { cidr: '0.0.0.0/8', kind: 'a "this network"', ref: 'RFC 791' },
  { cidr: '10.0.0.0/8', kind: 'a private', ref: 'RFC 1918' },
  { cidr: '100.64.0.0/10', kind: 'a shared carrier-grade NAT', ref: 'RFC 6598' },
  { cidr: '127.0.0.0/8', kind: 'a loopback', ref: 'RFC 1122' },
  { cidr: '169.254.0.0/16', kind: 'a link-local', ref: 'RFC 3927' },
  { cidr: '172.16.0.0/12', kind: 'a private', ref: 'RFC 1918' },
  { cidr: '192.0.0.0/24', kind: 'an IETF protocol-assignment', ref: 'RFC 6890' },
  { cidr: '192.0.2.0/24', kind: 'a documentation', ref: 'RFC 5737' },
  { cidr: '192.31.196.0/24', kind: 'an AS112', ref: 'RFC 7535' },
  { cidr: '192.52.193.0/24', kind: 'an AMT', ref: 'RFC 7450' },
  { cidr: '192.88.99.0/24', kind: 'a deprecated 6to4 relay anycast', ref: 'RFC 7526' },
  { cidr: '192.168.0.0/16', kind: 'a private', ref: 'RFC 1918' },
  { cidr: '192.175.48.0/24', kind: 'an AS112 direct delegation', ref: 'RFC 7534' },
  { cidr: '198.18.0.0/15', kind: 'a benchmarking', ref: 'RFC 2544' },
  { cidr: '198.51.100.0/24', kind: 'a documentation', ref: 'RFC 5737' },
  { cidr: '203.0.113.0/24', kind: 'a documentation', ref: 'RFC 5737' },
  { cidr: '224.0.0.0/4', kind: 'a multicast', ref: 'RFC 5771' },
  { cidr: '255.255.255.255/32', kind: 'a limited broadcast', ref: 'RFC 919' },
  { cidr: '240.0.0.0/4', kind: 'a reserved', ref: 'RFC 1112' },
];

const IPV6: readonly Entry[] = [
  { cidr: '::1/128', kind: 'a loopback', ref: 'RFC 4291' },
  { cidr: '::/128', kind: 'an unspecified', ref: 'RFC 4291' },
  { cidr: '::/96', kind: 'an IPv4-compatible', ref: 'deprecated by RFC 4291' },
  { cidr: '::ffff:0:0:0/96', kind: 'an IPv4-translated', ref: 'RFC 2765' },
  { cidr: '64:ff9b:1::/48', kind: 'a local-use IPv4/IPv6 translation', ref: 'RFC 8215' },
  { cidr: '100::/64', kind: 'a discard-only', ref: 'RFC 6666' },
  { cidr: '100:0:0:1::/64', kind: 'a dummy IPv6 prefix', ref: 'RFC 9780' },
  { cidr: '2001:1::/48', kind: 'an IETF protocol anycast', ref: 'PCP, TURN, DNS-SD: RFC 7723, RFC 8155, RFC 9665' },
  { cidr: '2001:2::/48', kind: 'a benchmarking', ref: 'RFC 5180' },
  { cidr: '2001:3::/32', kind: 'an AMT', ref: 'RFC 7450' },
  { cidr: '2001:4:112::/48', kind: 'an AS112-v6', ref: 'RFC 7535' },
  { cidr: '2001:10::/28', kind: 'a deprecated ORCHID', ref: 'RFC 4843' },
  { cidr: '2001:20::/28', kind: 'an ORCHIDv2', ref: 'RFC 7343' },
  { cidr: '2001:30::/28', kind: 'a drone remote ID', ref: 'RFC 9374' },
  // The rest of 2001::/23 (IETF protocol assignments) has no allocation yet.
  { cidr: '2001::/23', kind: 'an IETF protocol-assignment', ref: 'RFC 2928' },
  { cidr: '2001:db8::/32', kind: 'a documentation', ref: 'RFC 3849' },
  { cidr: '2620:4f:8000::/48', kind: 'an AS112 direct delegation', ref: 'RFC 7534' },
  { cidr: '3fff::/20', kind: 'a documentation', ref: 'RFC 9637' },
  { cidr: '5f00::/16', kind: 'an SRv6 SID', ref: 'RFC 9602' },
  { cidr: 'fc00::/7', kind: 'a unique-local', ref: 'RFC 4193' },
  { cidr: 'fe80::/10', kind: 'a link-local', ref: 'RFC 4291' },
  { cidr: 'fec0::/10', kind: 'a site-local', ref: 'deprecated by RFC 3879' },
  { cidr: 'ff00::/8', kind: 'a multicast', ref: 'RFC 4291' },
];

const compile = (list: readonly Entry[]) => list.map((e) => ({ ...e, range: ipaddr.parseCIDR(e.cidr) }));
const V4 = compile(IPV4), V6 = compile(IPV6);
const GLOBAL_UNICAST = ipaddr.parseCIDR('2000::/3');
const NAT64 = ipaddr.parseCIDR('64:ff9b::/96');

const v4of = (hi: number, lo: number) => new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
const within = (a: Addr, [r, bits]: [Addr, number]) => r.kind() === a.kind() && a.match(r as never, bits);

/**
 * Parses an address the way the kernel reads it. IPv6 goes through the WHATWG
 * URL parser first, which writes every embedded dotted quad as hex
 * ("::127.0.0.1" -> "::7f00:1"), because ipaddr.js misreads "::a.b.c.d" as
 * IPv4-mapped. Throws on anything that is not an IP address.
 */
export function parseAddress(address: string): Addr {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (!bare.includes(':')) {
    if (!ipaddr.IPv4.isValidFourPartDecimal(bare)) throw new Error('not an IP address');
    return ipaddr.IPv4.parse(bare);
  }
  const canonical = new URL(`http://[${bare}]/`).hostname.replace(/^\[|\]$/g, '');
  return ipaddr.IPv6.parse(canonical);
}

function inTable(a: Addr, table: typeof V4): string | null {
  const e = table.find((x) => within(a, x.range));
  return e ? `${e.kind} address (${e.cidr}, ${e.ref})` : null;
}

/**
 * Why an address is not public ("a loopback address (127.0.0.0/8, RFC 1122)"),
 * or null for a public one.
 */
export function specialRange(a: Addr): string | null {
  if (a.kind() === 'ipv4') return inTable(a, V4);
  const v6 = a as ipaddr.IPv6;
  const p = v6.parts;
  const embedded = (what: string, inner: ipaddr.IPv4[]): string | null => {
    for (const x of inner) {
      const why = inTable(x, V4);
      if (why) return `${what} carrying ${x.toString()}, ${why}`;
    }
    return null;
  };
  if (v6.isIPv4MappedAddress()) return embedded('an IPv4-mapped address (::ffff:0:0/96)', [v6.toIPv4Address()]);
  if (within(v6, NAT64)) return embedded('a NAT64 address (64:ff9b::/96, RFC 6052)', [v4of(p[6], p[7])]);
  if (p[0] === 0x2002) return embedded('a 6to4 address (2002::/16, RFC 3056)', [v4of(p[1], p[2])]);
  if (p[0] === 0x2001 && p[1] === 0) return embedded('a Teredo address (2001::/32, RFC 4380)', [v4of(p[2], p[3]), v4of(~p[6] & 0xffff, ~p[7] & 0xffff)]);
  const named = inTable(a, V6);
  if (named) return named;
  if (!within(v6, GLOBAL_UNICAST)) return 'an address outside IPv6 global unicast (2000::/3; the rest is reserved by the IETF)';
  return null;
}
