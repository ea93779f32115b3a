// The colour of a label wherever it is shown: the boxes and tags drawn into
// pictures (native/draw.cc paints palette entry `colorIndexOf(label)`) and the
// boxes the web page lays over a photo (web/recognise.ts), so one product has
// one colour in both. Plain data and arithmetic, no Node.js imports: the page's
// bundle includes this file. native/draw.cc holds the same palette for the
// pixels; test/native/draw.test.ts checks the two agree pixel by pixel.

/** RGB, in palette order (Sasha Trubetskoy's 20 distinct colours, then fillers). */
export const LABEL_PALETTE: readonly (readonly [number, number, number])[] = [
  [230, 25, 75], [60, 180, 75], [0, 130, 200], [245, 130, 48], [145, 30, 180],
  [70, 240, 240], [240, 50, 230], [210, 245, 60], [255, 225, 25], [0, 128, 128],
  [170, 110, 40], [128, 0, 0], [128, 128, 0], [0, 0, 128], [255, 0, 128],
  [0, 255, 127], [100, 80, 255], [0, 100, 0], [255, 105, 180], [255, 160, 0],
];

/** Stable palette index per label: a 32-bit FNV-1a hash of its UTF-16 code units. */
export function colorIndexOf(label: string): number {
  let h = 2166136261;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 16777619);
  return (h >>> 0) % LABEL_PALETTE.length;
}

/** CSS colours of a label's box and of the text on its tag (black on light colours, as draw.cc does). */
export function labelColours(label: string): { box: string; text: string } {
  const [r, g, b] = LABEL_PALETTE[colorIndexOf(label)];
  const luma = 0.299 * r + 0.587 * g + 0.114 * b;
  return { box: `rgb(${r} ${g} ${b})`, text: luma > 150 ? '#000' : '#fff' };
}
