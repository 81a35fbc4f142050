// sigstore-trust.mjs -- sigstore-js's TUF client (@sigstore/tuf) fetches a Sigstore instance's trust root.
//
// Used by the ceremony test suite (tests/clients.py sigstore_js_trust) to prove that a private Sigstore
// instance's root made by ceremony is one sigstore-js trusts, the way its signers and verifiers load it.
//
// Usage:
//   node sigstore-trust.mjs --mirror URL --root FILE --cache DIR
//
// URL serves the repository (N.root.json, timestamp.json, ... at URL, target files under URL/targets/).
// FILE is the root to trust the first time; DIR is the client's cache: a second run with the same DIR is a
// cached client that follows the repository from what it trusted before (FILE is then not read again).
//
// Output: exactly one JSON line on stdout.
//   success (exit 0): {"ok":true,"root_version":N,"media_type":"...","tlogs":[baseUrl...],
//                      "ctlogs":[baseUrl...],"cas":[uri...],"signing_config":"<media type>"|null}
//   failure (exit 1): {"ok":false,"code":"...","error":"<message>"}

import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";

async function main() {
  const { values } = parseArgs({
    options: { mirror: { type: "string" }, root: { type: "string" }, cache: { type: "string" } },
    strict: true,
  });
  if (!values.mirror || !values.root || !values.cache) {
    throw new Error("usage: node sigstore-trust.mjs --mirror URL --root FILE --cache DIR");
  }
  const { getTrustedRoot, initTUF } = await import("@sigstore/tuf");
  const options = { mirrorURL: values.mirror, rootPath: values.root, cachePath: values.cache, retry: 0, timeout: 10000 };
  const trusted = await getTrustedRoot(options);
  let signingConfig = null;
  const client = await initTUF(options);
  try {
    signingConfig = JSON.parse(await client.getTarget("signing_config.v0.2.json")).mediaType;
  } catch (err) {
    if (err.code !== "TUF_FIND_TARGET_ERROR") throw err; // an instance may publish no signing config
  }
  // The client keeps the newest root it verified as root.json in its cache directory for this mirror.
  const [mirrorDir] = fs.readdirSync(values.cache).filter((n) => fs.existsSync(path.join(values.cache, n, "root.json")));
  const root = JSON.parse(fs.readFileSync(path.join(values.cache, mirrorDir, "root.json"), "utf8"));
  return {
    ok: true,
    root_version: root.signed.version,
    media_type: trusted.mediaType,
    tlogs: trusted.tlogs.map((t) => t.baseUrl),
    ctlogs: trusted.ctlogs.map((t) => t.baseUrl),
    cas: trusted.certificateAuthorities.map((c) => c.uri),
    signing_config: signingConfig,
  };
}

try {
  process.stdout.write(JSON.stringify(await main()) + "\n");
  process.exitCode = 0;
} catch (err) {
  let error = err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err);
  if (err instanceof Error && err.cause) error += ` (cause: ${err.cause})`;
  process.stdout.write(JSON.stringify({ ok: false, code: err?.code ?? null, error }) + "\n");
  process.exitCode = 1;
}
