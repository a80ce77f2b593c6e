// The node's stable error codes (data.code) as sentences a person can act on.

const WORDS = {
  // social refusals (docs/social.md)
  post_too_long: "The post is too long.",
  invalid_utf8: "The text is not valid UTF-8.",
  control_characters: "The text contains control characters.",
  empty_post: "A post cannot be empty.",
  field_too_long: "A profile field is too long.",
  bad_url: "The avatar URL must be empty or start with http:// or https://, without spaces.",
  bad_handle: "A handle is 3 to 20 characters: lowercase letters, digits and _.",
  handle_fee: "Registering a handle costs a fee your transaction did not pay.",
  handle_taken: "That handle is already taken.",
  has_handle: "This account already has a handle.",
  unknown_handle: "No account has that handle.",
  not_owner: "That handle is not yours.",
  unknown_account: "That account does not exist yet.",
  bad_target: "That account cannot be the target of this action.",
  follow_self: "You cannot follow yourself.",
  self_target: "You cannot do that to yourself.",
  already_following: "You already follow this account.",
  not_following: "You do not follow this account.",
  already_muted: "You already muted this account.",
  not_muted: "This account is not muted.",
  already_blocked: "You already blocked this account.",
  not_blocked: "This account is not blocked.",
  blocked: "You cannot do that: one of you blocked the other.",
  unknown_post: "That post does not exist.",
  post_deleted: "That post was deleted.",
  not_author: "Only the author can do that.",
  bad_reaction: 'A reaction is "like" or one emoji.',
  already_reacted: "You already reacted to this post.",
  not_reacted: "You have not reacted to this post.",
  already_reposted: "You already reposted this post.",
  not_reposted: "You have not reposted this post.",
  // the chain's refusals (docs/blockchain.md)
  over_quota: "You are over your quota of actions for now. Wait a little (a balance raises the quota).",
  insufficient_balance: "Your balance is too low to pay for this. On a devnet, use the faucet in Settings.",
  fee_too_low: "The fee is too low for this transaction.",
  bad_signature: "The signature was refused.",
  wrong_chain: "The transaction is for another network.",
  bad_nonce: "Another transaction of yours is pending with the same number; try again.",
  nonce_too_old: "This transaction was already sent; try again.",
  nonce_gap: "An earlier transaction of yours is missing; try again.",
  duplicate_tx: "This transaction was already sent.",
  mempool_full: "The node is too busy to take transactions now; try again later.",
  tx_too_large: "The transaction is too large.",
  oversize: "The transaction is too large.",
  bad_body: "The node could not read this transaction.",
  body_hash_mismatch: "The transaction is damaged.",
  expired: "The transaction expired before it was included.",
  unknown_kind: "The node does not know this kind of action.",
  // queries and transport
  not_found: "Not found.",
  bad_account: "That is not an account: use @handle or a 64-character key.",
  bad_post_id: "That is not a post id.",
  bad_query: "That search is not valid.",
  bad_cursor: "The page position is no longer valid; reload.",
  invalid_params: "The request was not valid.",
  too_many_requests: "Too many requests; wait a little and try again.",
  rate_limited: "This node limits how fast one address may call it; wait a moment and try again.",
  overloaded: "The node is busy; try again in a moment.",
  timeout: "The node did not answer in time; try again.",
  unavailable: "The node is not ready (starting or syncing); try again soon.",
  unreachable: "Cannot reach the node.",
  disconnected: "The connection to the node was lost.",
  // keys
  bad_keystore: "That file is not a valid key backup.",
  wrong_passphrase: "Wrong passphrase for this key backup.",
  no_webcrypto: "This page cannot use keys here: open it on 127.0.0.1, localhost or over https.",
  no_passphrase: "Choose a passphrase to protect the key backup.",
  passphrase_mismatch: "The two passphrases differ.",
  no_account: "Create or import an account first (Settings).",
  dropped: "The network did not include the transaction; try again.",
};

/** A sentence for an error (or a code), naming the reason. */
export function explain(err) {
  const code = typeof err === "string" ? err : err && err.code;
  const words = WORDS[code];
  if (words) return words;
  const msg = err && err.message ? err.message : String(err);
  return code ? `${msg} (${code})` : msg;
}
