// Labels that round-trip tests use: every spelling that PyYAML (YAML 1.1) or a
// YAML 1.2 reader would read as something other than the same string.
export const TRICKY_LABELS = [
  'plain', '1e3', '09', '0o17', '017', '0x1F', '0b101', '1_000', '1:20', '-1:20.5', '1.5', '.5', '+.inf', '-.Inf', '.NaN',
  'yes', 'no', 'on', 'off', 'y', 'n', 'Y', 'N', 'true', 'False', 'NO', 'null', 'Null', '~', '', '=', '<<',
  '2001-12-14', '2001-12-14t21:59:43.10-05:00', '2002-12-14 21:59:43.10 -5',
  'tab\there', '\t', 'new\nline', '\n', 'two\n\nbreaks', 'trailing\n', ' lead', 'trail ', '  both  ', 'a  b',
  "it's", '"quoted"', 'back\\slash', '# hash', 'a #b', 'a: b', 'a:b', ': x', '- item', '? q', '@at', '`tick', '%pc', '!tag', '&anc', '*ali',
  '{}', '[a, b]', '|', '>', ',', 'a,b', '\r', 'cr\rlf\r\n', '\x00nul', '\x07bell', '\x1b', '\x7f', '\x85nel', '\u2028ls', '\u2029ps', '\ufeffbom',
  '\u00a0nbsp', '\ufffe', 'emoji 🍺🥤', '可口可乐', '日本語のラベル', 'Ünïcödé', 'x'.repeat(300),
  'word '.repeat(40).trim(), "long with ' quote " + 'w '.repeat(60), 'long\twith tab ' + 'w '.repeat(60),
  'line one ' + 'w '.repeat(50) + '\n' + 'line two ' + 'v '.repeat(50),
];

