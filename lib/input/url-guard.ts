// The SSRF guard for image URLs: which addresses a fetch may connect to.
// A host name is resolved once, every address it resolves to is checked, and
// the connection is then made to exactly the checked address (the `lookup`
// handed to the socket returns it), so a second resolution cannot point the
// connection elsewhere (DNS rebinding). Which addresses are not public comes
// from the IANA special-purpose tables in special-ranges.ts (decimal and short
// IPv4 forms such as 2130706433 or 127.1 are already normalised by the WHATWG
// URL parser; IPv4-mapped IPv6 is unwrapped here for the allow and deny lists).
import * as dns from 'node:dns';
import * as net from 'node:net';
import ipaddr from 'ipaddr.js';
import { parseAddress, specialRange } from './special-ranges';

export interface UrlGuardOptions {
  /**
   * Addresses or CIDR ranges allowed although not public (e.g. ['10.1.0.0/16',
   * '127.0.0.1']), for operators with internal image sources.
   */
  allow?: readonly string[];
  /** Addresses or CIDR ranges always refused, public or not (checked first). */
  deny?: readonly string[];
  /** Resolver (default: the system's, all addresses). */
  resolve?: (host: string) => Promise<Array<{ address: string; family: number }>>;
}

export class BlockedAddressError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BlockedAddressError';
  }
}

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

function parseRanges(list: readonly string[] | undefined, what: string): Range[] {
  return (list ?? []).map((s) => {
    try {
      if (s.includes('/')) return ipaddr.parseCIDR(s) as Range;
      const a = ipaddr.parse(s);
      return [a, a.kind() === 'ipv4' ? 32 : 128] as Range;
    } catch {
      throw new RangeError(`${what}: ${JSON.stringify(s)} is not an IP address or CIDR range`);
    }
  });
}

function normalise(address: string): ipaddr.IPv4 | ipaddr.IPv6 {
  const a = parseAddress(address);
  // ::ffff:a.b.c.d is matched against the lists as the IPv4 address it carries.
  return a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress() ? (a as ipaddr.IPv6).toIPv4Address() : a;
}

function inAny(a: ipaddr.IPv4 | ipaddr.IPv6, ranges: Range[]): boolean {
  return ranges.some(([r, bits]) => r.kind() === a.kind() && a.match(r as never, bits));
}

export class UrlGuard {
  private readonly allow: Range[];
  private readonly deny: Range[];
  private readonly resolver: (host: string) => Promise<Array<{ address: string; family: number }>>;

  constructor(o: UrlGuardOptions = {}) {
    this.allow = parseRanges(o.allow, 'allow');
    this.deny = parseRanges(o.deny, 'deny');
    this.resolver = o.resolve ?? ((host) => dns.promises.lookup(host, { all: true, verbatim: true }));
  }

  /** Why an address is refused, or null when it may be used. */
  refusal(address: string): string | null {
    let a: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      a = normalise(address);
    } catch {
      return 'not an IP address';
    }
    if (inAny(a, this.deny)) return 'denied by the server configuration';
    if (inAny(a, this.allow)) return null;
    // Only public addresses: every IANA special-purpose range is refused, and
    // the IPv6 ranges that carry an IPv4 address are judged by it.
    return specialRange(a);
  }

  /**
   * Resolves the host of a URL and checks every address; returns the address to
   * connect to. Throws BlockedAddressError (without connecting anywhere).
   */
  async check(url: URL): Promise<{ address: string; family: 4 | 6 }> {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    let addrs: Array<{ address: string; family: number }>;
    if (net.isIP(host)) addrs = [{ address: host, family: net.isIP(host) }];
    else {
      try {
        addrs = await this.resolver(host);
      } catch {
        addrs = [];
      }
      if (!addrs.length) throw new BlockedAddressError(`the host ${host} does not resolve`);
    }
    for (const { address } of addrs) {
      const why = this.refusal(address);
      if (why) throw new BlockedAddressError(`the host ${host} resolves to ${why}, which image URLs may not reach`);
    }
    const first = addrs[0];
    return { address: first.address, family: first.family === 6 ? 6 : 4 };
  }
}
