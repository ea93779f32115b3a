// The Host header allow-list. With no API keys (the default) a page whose DNS
// name is rebound to 127.0.0.1 could call the whole API from a browser, its
// requests carrying its own name in Host; answering only the names the server
// is meant to be reached by closes that. Default: a server bound to a loopback
// address answers loopback names and addresses only (localhost, 127.0.0.0/8,
// [::1], any port); a server bound elsewhere answers any Host unless given a list.
import * as net from 'node:net';

/** One entry: "example.com" (that name), ".example.com" or "*.example.com" (its subdomains too), an IP address, or "*" (any). */
export type HostPattern = string;

const LOOPBACK: readonly HostPattern[] = ['localhost', '.localhost', '127.0.0.0/8', '::1'];

export class HostAllowList {
  private readonly names = new Set<string>();
  private readonly suffixes: string[] = [];
  private loopbackV4 = false;
  readonly any: boolean;
  readonly entries: readonly string[];

  constructor(entries: readonly HostPattern[]) {
    this.entries = entries;
    this.any = entries.includes('*');
    for (const raw of entries) {
      const e = raw.trim().toLowerCase().replace(/\.$/, '');
      if (!e || /[/\s@]/.test(e.replace(/^127\.0\.0\.0\/8$/, ''))) throw new RangeError(`allowedHosts: ${JSON.stringify(raw)} is not a host name, address or "*"`);
      if (e === '127.0.0.0/8') this.loopbackV4 = true;
      else if (e.startsWith('*.')) this.suffixes.push(e.slice(1));
      else if (e.startsWith('.')) { this.suffixes.push(e); this.names.add(e.slice(1)); }
      else this.names.add(e.replace(/^\[|\]$/g, ''));
    }
  }

  /** The default for a server bound to `address`: loopback names only when it is a loopback address, else any. */
  static forBound(address: string | undefined): HostAllowList {
    const a = (address ?? '').replace(/^::ffff:/, '');
    const loopback = a === 'localhost' || a === '::1' || (net.isIPv4(a) && a.startsWith('127.'));
    return new HostAllowList(loopback ? LOOPBACK : ['*']);
  }

  /** Whether a request whose Host header is `host` is answered. */
  allows(host: string | undefined): boolean {
    if (this.any) return true;
    const name = hostName(host);
    if (name === null) return false;
    if (this.names.has(name)) return true;
    if (this.loopbackV4 && net.isIPv4(name) && name.startsWith('127.')) return true;
    return !net.isIP(name) && this.suffixes.some((s) => name.endsWith(s));
  }
}

/** The name in a Host header, without port and brackets, lower case; null when malformed. */
export function hostName(host: string | undefined): string | null {
  if (!host) return null;
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end < 0 || !/^(:\d{1,5})?$/.test(h.slice(end + 1))) return null;
    const inner = h.slice(1, end);
    return net.isIPv6(inner) ? inner : null;
  }
  const m = /^([a-z0-9.-]+)(?::\d{1,5})?$/.exec(h);
  return m ? m[1].replace(/\.$/, '') : null;
}
