// The URL guard's range table (lib/input/special-ranges.ts), spelling by
// spelling: each URL goes through the WHATWG URL parser as a request's would,
// then the guard's check (which connects nowhere). IPv4-compatible IPv6
// ([::127.0.0.1] and its hex forms) once passed as "unicast"; the end of the
// file shows the service no longer reaches a loopback canary through it.
import t from 'tap';
import * as http from 'node:http';
import { AddressInfo } from 'node:net';
import { fetchImage } from '../../lib/input/fetch-image';
import { UrlGuard } from '../../lib/input/url-guard';
import { parseAddress, specialRange } from '../../lib/input/special-ranges';

const guard = new UrlGuard({ resolve: async () => [] });

/** The guard's verdict on a URL: null when it would connect, else the refusal. */
async function verdict(url: string): Promise<string | null> {
  try {
    await guard.check(new URL(url));
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

// [URL spelling, the kind of range the refusal must name]
const REFUSED: Array<[string, RegExp]> = [
  // IPv4-compatible ::/96 in every spelling the URL parser accepts.
  ['http://[::127.0.0.1]/', /IPv4-compatible address \(::\/96/],
  ['http://[::7f00:1]/', /IPv4-compatible/],
  ['http://[0:0:0:0:0:0:127.0.0.1]/', /IPv4-compatible/],
  ['http://[0000:0000:0000:0000:0000:0000:7f00:0001]/', /IPv4-compatible/],
  ['http://[::a9fe:a9fe]/', /IPv4-compatible/],
  ['http://[::169.254.169.254]/', /IPv4-compatible/],
  ['http://[::10.0.0.1]/', /IPv4-compatible/],
  ['http://[::a00:1]/', /IPv4-compatible/],
  ['http://[::8.8.8.8]/', /IPv4-compatible/],
  ['http://[::2]/', /IPv4-compatible/],
  ['http://[::]/', /unspecified/],
  ['http://[::1]/', /loopback address \(::1\/128/],
  ['http://[0:0:0:0:0:0:0:1]/', /loopback/],
  // IPv4-mapped: judged as the IPv4 address it carries; IPv4-translated: refused.
  ['http://[::ffff:127.0.0.1]/', /loopback address \(127\.0\.0\.0\/8/],
  ['http://[::ffff:7f00:1]/', /loopback address \(127/],
  ['http://[::ffff:a9fe:a9fe]/', /link-local address \(169\.254/],
  ['http://[::ffff:10.0.0.1]/', /private address \(10\./],
  ['http://[::ffff:0:127.0.0.1]/', /IPv4-translated/],
  // NAT64 and 6to4 carrying internal IPv4; Teredo with an internal server or client.
  ['http://[64:ff9b::127.0.0.1]/', /NAT64 .* carrying 127\.0\.0\.1/],
  ['http://[64:ff9b::a9fe:a9fe]/', /NAT64 .*link-local/],
  ['http://[64:ff9b:1::8.8.8.8]/', /local-use IPv4\/IPv6 translation/],
  ['http://[2002:7f00:1::]/', /6to4 .* carrying 127\.0\.0\.1/],
  ['http://[2002:a9fe:a9fe::1]/', /6to4 .*169\.254\.169\.254/],
  ['http://[2002:c0a8:101::1]/', /6to4 .*192\.168\.1\.1, a private/],
  ['http://[2001::1]/', /Teredo/],
  ['http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/', /Teredo .* carrying 192\.0\.2\.45, a documentation/],
  ['http://[2001:0:7f00:1:0:0:f7f7:f7f7]/', /Teredo .* carrying 127\.0\.0\.1/],
  ['http://[2001:0:808:808:0:0:80ff:fffe]/', /Teredo .* carrying 127\.0\.0\.1/],
  // The rest of IANA's IPv6 special-purpose registry and address space.
  ['http://[100::1]/', /discard-only/],
  ['http://[100:0:0:1::1]/', /dummy IPv6 prefix/],
  ['http://[2001:1::1]/', /IETF protocol anycast/],
  ['http://[2001:2::1]/', /benchmarking/],
  ['http://[2001:3::1]/', /AMT/],
  ['http://[2001:4:112::1]/', /AS112-v6/],
  ['http://[2001:10::1]/', /ORCHID/],
  ['http://[2001:20::1]/', /ORCHIDv2/],
  ['http://[2001:30::1]/', /drone remote ID/],
  ['http://[2001:100::1]/', /IETF protocol-assignment/],
  ['http://[2001:db8::1]/', /documentation address \(2001:db8::\/32/],
  ['http://[2620:4f:8000::1]/', /AS112 direct delegation/],
  ['http://[3fff::1]/', /documentation address \(3fff::\/20/],
  ['http://[5f00::1]/', /SRv6/],
  ['http://[fc00::1]/', /unique-local/],
  ['http://[fd12:3456::1]/', /unique-local/],
  ['http://[fe80::1]/', /link-local address \(fe80::\/10/],
  ['http://[fe80::1%25eth0]/', /./], // the URL parser refuses zone ids: refused either way
  ['http://[febf::1]/', /link-local/],
  ['http://[fec0::1]/', /site-local/],
  ['http://[feff::1]/', /site-local/],
  ['http://[ff02::1]/', /multicast/],
  ['http://[ff0e::1]/', /multicast/],
  ['http://[4000::1]/', /outside IPv6 global unicast/],
  ['http://[1::1]/', /outside IPv6 global unicast/],
  ['http://[e000::1]/', /outside IPv6 global unicast/],
  // IPv4's special-purpose registry, in the URL parser's other spellings too.
  ['http://0.0.0.0/', /"this network"/],
  ['http://0/', /"this network"/],
  ['http://0.1.2.3/', /"this network"/],
  ['http://10.0.0.1/', /private address \(10\.0\.0\.0\/8/],
  ['http://012.0.0.1/', /private/],
  ['http://100.64.0.1/', /carrier-grade NAT/],
  ['http://100.127.255.254/', /carrier-grade NAT/],
  ['http://127.0.0.1/', /loopback address \(127\.0\.0\.0\/8/],
  ['http://127.1/', /loopback/],
  ['http://2130706433/', /loopback/],
  ['http://0x7f.0.0.1/', /loopback/],
  ['http://0177.0.0.1/', /loopback/],
  ['http://169.254.169.254/', /link-local/],
  ['http://2852039166/', /link-local/],
  ['http://172.16.0.1/', /private/],
  ['http://172.31.255.255/', /private/],
  ['http://192.0.0.8/', /IETF protocol-assignment/],
  ['http://192.0.0.170/', /IETF protocol-assignment/],
  ['http://192.0.2.1/', /documentation/],
  ['http://192.31.196.1/', /AS112/],
  ['http://192.52.193.1/', /AMT/],
  ['http://192.88.99.1/', /deprecated 6to4 relay anycast/],
  ['http://192.168.1.1/', /private/],
  ['http://192.175.48.1/', /AS112 direct delegation/],
  ['http://198.18.0.1/', /benchmarking/],
  ['http://198.19.255.255/', /benchmarking/],
  ['http://198.51.100.1/', /documentation/],
  ['http://203.0.113.1/', /documentation/],
  ['http://224.0.0.1/', /multicast/],
  ['http://239.255.255.250/', /multicast/],
  ['http://240.0.0.1/', /reserved/],
  ['http://255.255.255.254/', /reserved/],
  ['http://255.255.255.255/', /limited broadcast/],
];

const ALLOWED = [
  'http://8.8.8.8/', 'http://1.1.1.1/', 'http://100.63.255.255/', 'http://100.128.0.1/', 'http://172.15.255.255/', 'http://172.32.0.1/',
  'http://192.0.1.1/', 'http://192.0.3.1/', 'http://198.17.255.255/', 'http://198.20.0.1/', 'http://223.255.255.255/',
  'http://[2606:4700::1111]/', 'http://[2a00:1450:4001::1]/', 'http://[2001:4860:4860::8888]/', 'http://[2001:200::1]/',
  // Tunnels whose embedded addresses are all public reach a public host.
  'http://[64:ff9b::8.8.8.8]/', 'http://[2002:808:808::1]/', 'http://[2001:0:4136:e378:0:0:f7f7:f7f7]/',
];

t.test('every special-purpose spelling is refused, naming its range', async (t) => {
  for (const [url, why] of REFUSED) {
    const v = await verdict(url);
    t.ok(v, `${url}: refused`);
    t.match(v ?? '', why, `${url}: ${v}`);
  }
});

t.test('public addresses, and tunnels to public ones, pass', async (t) => {
  for (const url of ALLOWED) t.equal(await verdict(url), null, `${url}: allowed`);
});

t.test('the table judges addresses as resolvers return them', async (t) => {
  // getaddrinfo answers in any of these forms; each is judged as the kernel reads it.
  t.match(specialRange(parseAddress('::127.0.0.1')), /IPv4-compatible/);
  t.match(specialRange(parseAddress('[::ffff:127.0.0.1]')), /IPv4-mapped address \(::ffff:0:0\/96\) carrying 127\.0\.0\.1, a loopback/);
  t.equal(specialRange(parseAddress('::ffff:8.8.8.8')), null);
  t.match(specialRange(parseAddress('fe80::1%eth0')), /link-local/);
  t.equal(specialRange(parseAddress('8.8.8.8')), null);
  t.throws(() => parseAddress('127.1'), /not an IP address/, 'resolvers never answer short forms');
  t.throws(() => parseAddress('example.com'));
  const g = new UrlGuard({ allow: ['127.0.0.1'], deny: ['2606:4700::/32'] });
  t.equal(g.refusal('::ffff:127.0.0.1'), null, 'the allow list sees the IPv4 inside a mapped address');
  t.ok(g.refusal('::127.0.0.1'), 'but not inside a deprecated IPv4-compatible one');
  t.match(g.refusal('2606:4700::1111'), /denied/);
  const viaDns = new UrlGuard({ resolve: async () => [{ address: '8.8.8.8', family: 4 }, { address: '::a9fe:a9fe', family: 6 }] });
  await t.rejects(viaDns.check(new URL('http://mixed.test/')), /resolves to an IPv4-compatible address/, 'one bad answer of several refuses the host');
});

t.test('the service does not reach a loopback canary through IPv4-compatible IPv6', async (t) => {
  const hits: string[] = [];
  const server = http.createServer((req, res) => { hits.push(req.url ?? ''); res.end('x'); });
  await new Promise<void>((r) => server.listen(0, '::', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const { port } = server.address() as AddressInfo;
  for (const host of ['[::127.0.0.1]', '[::7f00:1]', '[::ffff:127.0.0.1]', '[::1]', '[64:ff9b::127.0.0.1]']) {
    await t.rejects(fetchImage(`http://${host}:${port}/a.jpg`, { guard: true }), { code: 'ERR_FETCH', message: /which image URLs may not reach$/ }, host);
  }
  t.same(hits, [], 'the canary saw nothing');
});
