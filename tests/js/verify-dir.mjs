// verify-dir.mjs -- load every reachable role of a TUF repository with tuf-js.
//
// Used by the differential fuzz test (tests/fuzz_oracle.py): what `ceremony
// verify` accepts, tuf-js must accept too. refresh.mjs loads the top-level
// roles and the delegated roles on the way to given targets; this script
// loads every delegated role a client could ever fetch.
//
// Usage:
//   node verify-dir.mjs --metadata-url URL --root FILE
//
// FILE is the trusted root, copied as root.json into a fresh temporary
// metadata directory. The client refreshes (root chain, timestamp, snapshot,
// top-level targets), then walks the delegations from targets and loads each
// delegated role (succinct hash bins included) through the client's own
// loader, which checks the snapshot entry, hashes, signatures and expiry.
// tuf-js uses the real clock.
//
// Output: exactly one JSON line on stdout.
//   success (exit 0): {"ok":true,"roles":["targets","a",...]}
//   failure (exit 1): {"ok":false,"error":"<message>"}

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";

function delegatedNames(targets) {
  const delegations = targets.signed.delegations;
  if (!delegations) return [];
  if (delegations.roles) return Object.keys(delegations.roles);
  if (delegations.succinctRoles) return [...delegations.succinctRoles.getRoles()];
  return [];
}

async function main() {
  const { values } = parseArgs({
    options: {
      "metadata-url": { type: "string" },
      root: { type: "string" },
    },
    strict: true,
  });
  const metadataUrl = values["metadata-url"];
  if (!metadataUrl || !values.root) {
    throw new Error("usage: node verify-dir.mjs --metadata-url URL --root FILE");
  }
  const { Updater } = await import("tuf-js");

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ceremony-tufjs-"));
  try {
    const metadataDir = path.join(tmp, "metadata");
    const targetDir = path.join(tmp, "targets");
    fs.mkdirSync(metadataDir);
    fs.mkdirSync(targetDir);
    fs.copyFileSync(values.root, path.join(metadataDir, "root.json"));
    const updater = new Updater({
      metadataDir,
      metadataBaseUrl: metadataUrl,
      targetDir,
      targetBaseUrl: new URL("targets/", metadataUrl.endsWith("/") ? metadataUrl : metadataUrl + "/").toString(),
      config: { fetchRetry: false, fetchTimeout: 30000 },
    });
    await updater.refresh();

    // Breadth-first over (parent, role) pairs; loadTargets is the client's own loader.
    const loaded = ["targets"];
    const queue = ["targets"];
    const seen = new Set(["targets"]);
    while (queue.length > 0) {
      const parent = queue.shift();
      const parentMetadata = updater.trustedSet.getRole(parent);
      for (const name of delegatedNames(parentMetadata)) {
        if (seen.has(name)) continue;
        seen.add(name);
        await updater.loadTargets(name, parent);
        loaded.push(name);
        queue.push(name);
      }
    }
    return { ok: true, roles: loaded };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

try {
  process.stdout.write(JSON.stringify(await main()) + "\n");
  process.exitCode = 0;
} catch (err) {
  let error = err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err);
  if (err instanceof Error && err.cause) error += ` (cause: ${err.cause})`;
  process.stdout.write(JSON.stringify({ ok: false, error }) + "\n");
  process.exitCode = 1;
}
