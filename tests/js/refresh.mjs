// refresh.mjs -- run the tuf-js client against a TUF repository served over HTTP.
//
// Used by the ceremony test suite (tests/clients.py) as an independent client
// implementation: metadata written by ceremony must be accepted by tuf-js too.
//
// Usage:
//   node refresh.mjs --metadata-url URL --root FILE [--target PATH ...]
//
// FILE is the trusted root; it is copied as root.json into a fresh temporary
// metadata directory. The client then runs the full TUF refresh (root chain,
// timestamp, snapshot, top-level targets) and, for each --target, looks the
// target up (which walks delegations and fetches delegated metadata).
//
// Output: exactly one JSON line on stdout.
//   success (exit 0): {"ok":true,"root_version":N,"timestamp_version":N,
//                      "snapshot_version":N,"targets_version":N,
//                      "targets":{"PATH":true|false}}
//   failure (exit 1): {"ok":false,"error":"<message>"}
//
// Dependencies: run `npm ci` in this directory first.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";

function readVersion(dir, role) {
  const data = JSON.parse(fs.readFileSync(path.join(dir, `${role}.json`), "utf8"));
  return data.signed.version;
}

async function main() {
  const { values } = parseArgs({
    options: {
      "metadata-url": { type: "string" },
      root: { type: "string" },
      target: { type: "string", multiple: true, default: [] },
    },
    strict: true,
  });
  const metadataUrl = values["metadata-url"];
  if (!metadataUrl || !values.root) {
    throw new Error("usage: node refresh.mjs --metadata-url URL --root FILE [--target PATH ...]");
  }

  // Imported lazily so a missing `npm ci` is reported as a JSON error.
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
      // Never used: targets are looked up, not downloaded.
      targetBaseUrl: new URL("targets/", metadataUrl.endsWith("/") ? metadataUrl : metadataUrl + "/").toString(),
      // Fail fast: a local test server does not need retries.
      config: { fetchRetry: false, fetchTimeout: 30000 },
    });
    await updater.refresh();

    const targets = {};
    for (const targetPath of values.target) {
      targets[targetPath] = (await updater.getTargetInfo(targetPath)) !== undefined;
    }

    // tuf-js persists a metadata file only after verifying it, so the files
    // in metadataDir are the trusted set.
    return {
      ok: true,
      root_version: readVersion(metadataDir, "root"),
      timestamp_version: readVersion(metadataDir, "timestamp"),
      snapshot_version: readVersion(metadataDir, "snapshot"),
      targets_version: readVersion(metadataDir, "targets"),
      targets,
    };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

try {
  process.stdout.write(JSON.stringify(await main()) + "\n");
  process.exitCode = 0;
} catch (err) {
  // tuf-js error classes do not set .name; the class name says what failed.
  let error = err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err);
  if (err instanceof Error && err.cause) error += ` (cause: ${err.cause})`;
  process.stdout.write(JSON.stringify({ ok: false, error }) + "\n");
  process.exitCode = 1;
}
