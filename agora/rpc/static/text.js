// Post text as DOM nodes: mentions, hashtags and links become links; everything else is
// a text node. No HTML from a post is ever parsed (no innerHTML anywhere in the client).

const TOKENS = /(https?:\/\/[^\s<>"]+)|@([A-Za-z0-9_]{3,20})(?![\p{L}\p{N}_@])|#([\p{L}\p{N}_]{1,50})(?![\p{L}\p{N}_])/gu;
const WORD = /[\p{L}\p{N}_]/u;
const TRAILING = /[.,;:!?)\]}'"]+$/;

function link(href, text, cls) {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  a.className = cls;
  return a;
}

function safeUrl(raw) {
  try {
    const u = new URL(raw);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch {
    return null;
  }
}

/** A fragment for `text`, with links built by createElement and textContent only. */
export function richText(text) {
  const frag = document.createDocumentFragment();
  let last = 0;
  const plain = (end) => {
    if (end > last) frag.append(document.createTextNode(text.slice(last, end)));
  };
  for (const m of text.matchAll(TOKENS)) {
    const at = m.index;
    const before = at > 0 ? text[at - 1] : "";
    if (m[1]) {
      const raw = m[1].replace(TRAILING, "");
      const href = safeUrl(raw);
      if (!href) continue;
      plain(at);
      const a = link(href, raw, "url");
      a.rel = "noopener noreferrer nofollow ugc";
      a.target = "_blank";
      frag.append(a);
      last = at + raw.length;
    } else if (m[2]) {
      if (before && (WORD.test(before) || before === "@")) continue;
      plain(at);
      frag.append(link(`/u/@${m[2].toLowerCase()}`, m[0], "mention"));
      last = at + m[0].length;
    } else if (m[3]) {
      if (before && (WORD.test(before) || before === "#" || before === "&")) continue;
      const tag = m[3].toLowerCase();
      if (/^\p{N}+$/u.test(tag) || !tag.replace(/_/g, "")) continue;
      plain(at);
      frag.append(link(`/tag/${encodeURIComponent(tag)}`, m[0], "hashtag"));
      last = at + m[0].length;
    }
  }
  plain(text.length);
  return frag;
}
