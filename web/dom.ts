// Small DOM helpers: every text goes in through textContent (labels and
// messages come from users and the service, never parsed as HTML).

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`the page has no #${id}`);
  return e as T;
}

type Child = Node | string | null | undefined | false;

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: { className?: string; text?: string; attrs?: Record<string, string> } = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (props.className) e.className = props.className;
  if (props.text !== undefined) e.textContent = props.text;
  for (const [k, v] of Object.entries(props.attrs ?? {})) e.setAttribute(k, v);
  for (const c of children) if (c) e.append(c);
  return e;
}

/** Shows a message in an alert element, or hides it when the message is empty. */
export function showMessage(e: HTMLElement, message: string): void {
  e.textContent = message;
  e.hidden = !message;
}

/** The same label gets the same colour everywhere (a hue from an FNV-1a hash of the label). */
export function labelColour(label: string): string {
  let h = 2166136261;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 16777619);
  return `hsl(${(h >>> 0) % 360} 75% 36%)`;
}

export const fmtScore = (s: number): string => (Math.abs(s) >= 100 ? s.toFixed(1) : s.toFixed(3));
