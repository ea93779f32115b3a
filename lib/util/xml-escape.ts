// Text and attribute values put into hand-written SVG (the evaluation's charts,
// lib/eval/report-svg.ts; the benchmark report's, bench/svg.ts): the five
// characters XML gives meaning to, as entities. By hand: five replacements are
// not worth a dependency (the charts are the package's only XML).
const ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export const escapeXml = (s: string): string => s.replace(/[&<>"']/g, (c) => ENTITIES[c]);
