// Building DOM without HTML strings: every piece of user text is a text node.

/** h("a", {href: "/", class: "x", onclick: fn, "aria-label": "..."}, "text", child, [more]) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k === "value") el.value = v; // a textarea has no value attribute
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
}

export function fmtTime(ms) {
  const d = new Date(ms);
  const age = (Date.now() - ms) / 1000;
  if (age < 60) return "now";
  if (age < 3600) return `${Math.floor(age / 60)} min`;
  if (age < 86400) return `${Math.floor(age / 3600)} h`;
  return d.toLocaleDateString();
}

export const shortKey = (key) => `${key.slice(0, 8)}…`;

/** How an account is named: @handle, else its key in short. */
export const nameOf = (ref) => (ref && ref.handle ? `@${ref.handle}` : ref ? shortKey(ref.key) : "?");

export const accountPath = (ref) => `/u/${ref.handle ? "@" + ref.handle : ref.key}`;

export function accountLink(ref, cls = "who") {
  return h("a", { href: accountPath(ref), class: cls }, nameOf(ref));
}

export function avatar(ref) {
  const label = ref && ref.handle ? ref.handle : ref ? ref.key : "?";
  const hue = parseInt((ref && ref.key ? ref.key : "00").slice(0, 2), 16) * 1.4;
  const el = h("span", { class: "avatar", "aria-hidden": "true" }, label.slice(0, 1).toUpperCase());
  el.style.setProperty("--hue", String(hue | 0)); // CSSOM: allowed by the page's CSP
  return el;
}
