// Compose: a new post, a reply (?reply=id), a quote (?quote=id) or an edit (?edit=id),
// with a character counter against the chain's max_post_chars.

import { h } from "../dom.js";
import { explain } from "../errors.js";
import { chars } from "../util.js";
import { postCard } from "./common.js";

export async function render(app, main, params) {
  const c = app.client;
  const max = c.info ? c.info.max_post_chars : 1000;
  const reply = params.get("reply"), quote = params.get("quote"), edit = params.get("edit");
  const target = reply || quote || edit;
  const title = reply ? "Reply" : quote ? "Quote" : edit ? "Edit post" : "New post";
  main.append(h("h1", {}, title));
  let original = null;
  if (target) {
    const d = await c.rpc.call("social_getPost", { post: target });
    original = d.post;
    main.append(h("div", { class: "context-post", "aria-label": edit ? "The post you edit" : "The post you answer" },
      postCard(app, { post: d.post }, { actions: false })));
  }
  const area = h("textarea", { id: "compose-text", name: "text", rows: 5, maxlength: String(max * 4), "aria-describedby": "compose-count compose-error" });
  if (edit && original) area.value = original.text || "";
  const count = h("span", { id: "compose-count", class: "counter", "aria-live": "polite" });
  const err = h("p", { id: "compose-error", class: "error", role: "alert" });
  const send = h("button", { type: "submit", class: "primary" }, edit ? "Save edit" : reply ? "Reply" : "Post");
  const form = h("form", { class: "compose", "aria-label": title },
    h("label", { for: "compose-text" }, reply ? "Your reply" : quote ? "Your comment" : edit ? "New text" : "What do you want to say?"),
    area,
    h("div", { class: "row" }, count, send),
    h("p", { class: "hint" }, "Ctrl+Enter posts. Mentions (@handle), #hashtags and links become links."),
    err,
  );
  const update = () => {
    const n = chars(area.value);
    const over = n - max;
    count.textContent = over > 0 ? `${n} / ${max}: ${over} too many` : `${n} / ${max}`;
    count.classList.toggle("over", over > 0);
    area.setAttribute("aria-invalid", String(over > 0));
    send.disabled = over > 0 || !area.value.trim();
  };
  area.addEventListener("input", update);
  area.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) form.requestSubmit();
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (send.disabled) return;
    err.textContent = "";
    send.disabled = true;
    try {
      const text = area.value;
      if (edit) {
        await c.send("edit", { post: edit, text }, "Edit");
        app.go(`/p/${edit}`);
      } else {
        await c.send("post", { text, reply_to: reply, quote_of: quote }, reply ? "Reply" : quote ? "Quote" : "Post");
        app.go(reply ? `/t/${original.root || reply}` : "/");
      }
    } catch (ex) {
      err.textContent = explain(ex);
      update();
    }
  });
  main.append(form);
  update();
  area.focus();
}
