// Sign a civic-feedback transaction token and build the rating widget's URL.
// Node 18+, built-in `crypto` only: no npm packages.
//
// Call signRatingToken() on your portal's server when a citizen's transaction ends,
// and put widgetUrl() into the iframe's src. The secret (HS256) or the Ed25519 private
// key (EdDSA) must stay on the server: never send it to a browser or put it in a page.
//
//   CF_KID=... CF_SECRET=... CF_TENANT=demo CF_SERVICE=demo-passport CF_TXN=APP-1 \
//     node sign-rating-token.mjs
//
// Environment: CF_KID, CF_TENANT, CF_SERVICE, CF_TXN, and CF_SECRET (HS256) or
// CF_PRIVATE_KEY_FILE (an Ed25519 PKCS#8 PEM: EdDSA); optional CF_OFFICE, CF_OPERATOR,
// CF_CASE_OPENED_AT, CF_CASE_ANSWERED_AT (seconds since 1970) and CF_LIFETIME
// (seconds, default 3600). Prints the token.

import { createHmac, createPrivateKey, randomBytes, sign } from "node:crypto";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

export const AUDIENCE = "civic-feedback:widget";

const base64url = (data) => Buffer.from(data).toString("base64url");

/**
 * A token for one finished transaction.
 * key: the HS256 secret string exactly as you were given it (not base64-decoded), or an
 * Ed25519 private KeyObject (crypto.createPrivateKey(pem)) for EdDSA.
 * attributes: optional claims office, operator, channel, case_opened_at, case_answered_at.
 */
export function signRatingToken({ kid, key, tenant, service, transaction, attributes = {}, lifetime = 3600 }) {
  const eddsa = typeof key !== "string";
  if (eddsa && key?.asymmetricKeyType !== "ed25519") {
    throw new TypeError("key must be the HS256 secret or an Ed25519 private KeyObject");
  }
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: eddsa ? "EdDSA" : "HS256", kid, typ: "JWT" };
  const claims = {
    ...attributes,
    iss: tenant,
    aud: AUDIENCE,
    svc: service,
    txn: transaction,
    iat: now,
    exp: now + lifetime,
    jti: randomBytes(16).toString("hex"),
  };
  const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  const signature = eddsa
    ? sign(null, Buffer.from(input), key)
    : createHmac("sha256", key).update(input).digest();
  return `${input}.${base64url(signature)}`;
}

/** The widget's address for the iframe's src, e.g. collector = "https://feedback.example.gov". */
export function widgetUrl(collector, service, token) {
  return `${collector.replace(/\/+$/, "")}/w/${encodeURIComponent(service)}?t=${token}`;
}

function main(env) {
  const attributes = {};
  if (env.CF_OFFICE) attributes.office = env.CF_OFFICE;
  if (env.CF_OPERATOR) attributes.operator = env.CF_OPERATOR;
  for (const name of ["case_opened_at", "case_answered_at"]) {
    const value = env[`CF_${name.toUpperCase()}`];
    if (value) attributes[name] = integer(value, name);
  }
  const key = env.CF_PRIVATE_KEY_FILE
    ? createPrivateKey(readFileSync(env.CF_PRIVATE_KEY_FILE))
    : required(env, "CF_SECRET");
  const token = signRatingToken({
    kid: required(env, "CF_KID"),
    key,
    tenant: required(env, "CF_TENANT"),
    service: required(env, "CF_SERVICE"),
    transaction: required(env, "CF_TXN"),
    attributes,
    lifetime: env.CF_LIFETIME ? integer(env.CF_LIFETIME, "CF_LIFETIME") : 3600,
  });
  console.log(token);
}

function required(env, name) {
  if (!env[name]) throw new Error(`${name} is not set`);
  return env[name];
}

function integer(text, name) {
  if (!/^\d+$/.test(text)) throw new Error(`${name} must be a whole number`);
  return Number(text);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.env);
}
