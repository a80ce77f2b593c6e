// Settings (account, faucet, handle, profile, key backup, node) and the welcome screen
// where a key is made or imported.

import { h, shortKey } from "../dom.js";
import { explain } from "../errors.js";
import { createAccount, exportKeystore, importKeystore, listAccounts, setActive } from "../keys.js";
import { AppError } from "../util.js";

let uid = 0;
function field(label, attrs) {
  const id = `f${++uid}`;
  const input = h(attrs.tag || "input", { id, ...attrs, tag: null });
  return [h("label", { for: id }, label), input];
}

function form(title, fields, button, onsubmit, id) {
  const err = h("p", { class: "error", role: "alert" });
  const ok = h("p", { class: "ok", role: "status" });
  const submit = h("button", { type: "submit", class: "primary" }, button);
  const f = h("form", { class: "card", "aria-label": title, id }, h("h2", {}, title), ...fields, submit, err, ok);
  f.addEventListener("submit", async (e) => {
    e.preventDefault();
    err.textContent = ok.textContent = "";
    submit.disabled = true;
    submit.setAttribute("aria-busy", "true");
    try {
      const msg = await onsubmit(new FormData(f), f);
      if (msg) ok.textContent = msg;
    } catch (ex) {
      err.textContent = explain(ex);
    } finally {
      submit.disabled = false;
      submit.removeAttribute("aria-busy");
    }
  });
  return f;
}

async function readFile(file) {
  if (!file || !file.size) throw new AppError("bad_keystore", "choose a key backup file");
  if (file.size > 4096) throw new AppError("bad_keystore", "too large for a key backup");
  return file.text();
}

function passphrases(data) {
  const pw = String(data.get("passphrase") || "");
  if (!pw) throw new AppError("no_passphrase", "no passphrase");
  if (pw !== String(data.get("passphrase2") || "")) throw new AppError("passphrase_mismatch", "mismatch");
  return pw;
}

function keyForms(app) {
  const create = form("Create a new account", [
    h("p", {}, "The key is made in this browser and never leaves it unencrypted. Choose a passphrase: it encrypts the key backup you can download (the CLI reads it too)."),
    ...field("Passphrase", { type: "password", name: "passphrase", autocomplete: "new-password", required: true }),
    ...field("Passphrase again", { type: "password", name: "passphrase2", autocomplete: "new-password", required: true }),
  ], "Create account", async (data) => {
    await createAccount(passphrases(data));
    await app.connect();
    app.go("/settings");
  }, "create-account");
  const imp = form("Import a key backup", [
    h("p", {}, "A keystore file from `agora account new` or from this client's Export."),
    ...field("Key backup file", { type: "file", name: "file", accept: ".json,application/json", required: true }),
    ...field("Its passphrase", { type: "password", name: "passphrase", autocomplete: "current-password", required: true }),
  ], "Import", async (data) => {
    const text = await readFile(data.get("file"));
    const acct = await importKeystore(text, String(data.get("passphrase") || ""));
    await app.connect();
    app.go("/settings");
    return `Imported ${shortKey(acct.pub)}`;
  }, "import-account");
  return [create, imp];
}

export async function welcome(app, main) {
  main.append(h("h1", {}, "Welcome to Agora"),
    h("p", {}, "A social network that runs as a blockchain. To post, follow and react you need an account: a key kept in this browser."));
  main.append(...keyForms(app));
}

export async function render(app, main) {
  const c = app.client;
  main.append(h("h1", {}, "Settings"));
  if (!c.account) {
    main.append(h("p", {}, "No account in this browser yet."), ...keyForms(app), nodeForm(app));
    return;
  }
  const me = await c.refreshMe();
  const info = c.info;
  const dl = h("dl", { class: "facts" },
    h("dt", {}, "Key"), h("dd", {}, h("code", { id: "my-key" }, me.key)),
    h("dt", {}, "Handle"), h("dd", { id: "my-handle" }, me.handle ? `@${me.handle}` : "none yet"),
    h("dt", {}, "Balance"), h("dd", { id: "my-balance" }, String(me.balance)),
    h("dt", {}, "Actions left"), h("dd", {}, `${Math.floor(me.quota)} (quota)`));
  main.append(h("section", { class: "card", "aria-labelledby": "acct-h" }, h("h2", { id: "acct-h" }, "Your account"), dl));
  const onMe = (e) => {
    const m = e.detail;
    if (!m) return;
    document.getElementById("my-handle") && (document.getElementById("my-handle").textContent = m.handle ? `@${m.handle}` : "none yet");
    document.getElementById("my-balance") && (document.getElementById("my-balance").textContent = String(m.balance));
  };
  c.addEventListener("me", onMe);
  app.onLeave(() => c.removeEventListener("me", onMe));

  if (await c.hasFaucet().catch(() => false)) {
    const b = h("button", { type: "button", id: "faucet", class: "primary" }, "Get test tokens");
    const note = h("p", { role: "status" });
    b.addEventListener("click", async () => {
      b.disabled = true;
      note.textContent = "Asking the faucet…";
      try {
        const entry = await c.fund();
        note.textContent = "Sent: pending until the next block.";
        const res = await entry.final;
        note.textContent = res.code === "ok" ? "Funded." : `Failed: ${explain(res.code)}`;
      } catch (e) {
        note.textContent = explain(e);
      } finally {
        b.disabled = false;
      }
    });
    main.append(h("section", { class: "card", "aria-labelledby": "faucet-h" }, h("h2", { id: "faucet-h" }, "Devnet faucet"),
      h("p", {}, "This network is a devnet: its faucet gives tokens for fees (a handle costs " + info.handle_fee + ")."), b, note));
  }

  main.append(form("Handle", [
    h("p", {}, `A unique name, 3 to 20 of a-z, 0-9 and _. Registering costs a fee of ${info.handle_fee}.`),
    ...field("Handle", { name: "handle", autocomplete: "username", pattern: "[a-z0-9_]{3,20}", value: me.handle || "", required: true }),
  ], "Register handle", async (data) => {
    const entry = await c.send("handle_register", { handle: String(data.get("handle") || "").trim() }, "Register handle");
    const res = await entry.final;
    if (res.code !== "ok") throw new AppError(res.code, res.message);
    return "Registered.";
  }, "handle-form"));

  let prof = { name: "", bio: "", avatar_url: "" };
  try {
    prof = await c.rpc.call("social_getProfile", { account: c.account.pub });
  } catch {
    /* not on the chain yet */
  }
  main.append(form("Profile", [
    ...field("Display name", { name: "name", value: prof.name, maxlength: "50" }),
    ...field("Bio", { tag: "textarea", name: "bio", rows: 3, maxlength: "300", value: prof.bio }),
    ...field("Avatar URL (shown as a link; never loaded)", { name: "avatar", type: "url", value: prof.avatar_url }),
  ], "Save profile", async (data) => {
    const entry = await c.send("profile_set", {
      display_name: String(data.get("name") || ""), bio: String(data.get("bio") || ""), avatar_url: String(data.get("avatar") || ""),
    }, "Save profile");
    const res = await entry.final;
    if (res.code !== "ok") throw new AppError(res.code, res.message);
    return "Saved.";
  }, "profile"));

  const exp = h("button", { type: "button", id: "export-key" }, "Download key backup");
  exp.addEventListener("click", () => {
    const blob = new Blob([exportKeystore(c.account)], { type: "application/json" });
    const a = h("a", { href: URL.createObjectURL(blob), download: `agora-key-${c.account.pub.slice(0, 8)}.json` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  });
  main.append(h("section", { class: "card", "aria-labelledby": "backup-h" }, h("h2", { id: "backup-h" }, "Key backup"),
    h("p", {}, "The key itself cannot be read by any script (it is non-extractable). Its backup is the encrypted file made when the key was created: keep it, with its passphrase, to use the account elsewhere (`agora --keystore FILE`)."),
    exp));

  const accounts = await listAccounts();
  const switcher = h("section", { class: "card", "aria-labelledby": "accts-h" }, h("h2", { id: "accts-h" }, "Accounts in this browser"),
    h("ul", {}, accounts.map((a) => h("li", {}, h("code", {}, shortKey(a.pub)), a.pub === c.account.pub ? " (in use) " : " ",
      a.pub === c.account.pub ? null : h("button", { type: "button", "aria-label": `Use account ${shortKey(a.pub)}`, onclick: async () => {
        await setActive(a.pub);
        await app.connect();
        app.go("/settings", true);
      } }, "Use")))));
  main.append(switcher, ...keyForms(app), nodeForm(app));
}

function nodeForm(app) {
  return form("Node", [
    h("p", {}, `This client talks to ${app.nodeUrl()} (chain ${app.client.info ? app.client.info.chain_id : "?"}). Any node of the network serves the same data.`),
    ...field("Node URL", { name: "node", type: "url", value: app.nodeUrl(), required: true }),
  ], "Use this node", async (data) => {
    const url = String(data.get("node") || "").replace(/\/+$/, "");
    if (url === location.origin) localStorage.removeItem("agora.node");
    else localStorage.setItem("agora.node", url);
    await app.connect();
    return `Connected to ${url}.`;
  }, "node-form");
}
