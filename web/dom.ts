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

/** A label's box and tag-text colours: the palette the drawn pictures use (lib/util/label-colour.ts). */
export { labelColours } from '../lib/util/label-colour';

export const fmtScore = (s: number): string => (Math.abs(s) >= 100 ? s.toFixed(1) : s.toFixed(3));
