// refresh.mjs -- run the tuf-js client against a TUF repository served over HTTP.
//
// Used by the ceremony test suite (tests/clients.py) as an independent client
// implementation: metadata written by ceremony must be accepted by tuf-js too.
//
// Usage:
//   node refresh.mjs --metadata-url URL --root FILE [--target PATH ...] [--targets-url URL --download]
//
// FILE is the trusted root; it is copied as root.json into a fresh temporary
// metadata directory. The client then runs the full TUF refresh (root chain,
// timestamp, snapshot, top-level targets) and, for each --target, looks the
// target up (which walks delegations and fetches delegated metadata). With
// --download it also downloads each target found from --targets-url (tuf-js
// checks its length and hashes, and with consistent snapshots fetches
// DIR/HASH.NAME) and reports the SHA-256 of the bytes it accepted.
//
// Output: exactly one JSON line on stdout.
//   success (exit 0): {"ok":true,"root_version":N,"timestamp_version":N,
//                      "snapshot_version":N,"targets_version":N,
//                      "targets":{"PATH":true|false},
//                      "downloaded":{"PATH":"<sha256 hex>"}}   (with --download)
//   failure (exit 1): {"ok":false,"error":"<message>"}
//
// Dependencies: run `npm ci` in this directory first.

import crypto from "node:crypto";
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
      "targets-url": { type: "string" },
      download: { type: "boolean", default: false },
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
      // Used only with --download (otherwise targets are looked up, not downloaded).
      targetBaseUrl:
        values["targets-url"] ??
        new URL("targets/", metadataUrl.endsWith("/") ? metadataUrl : metadataUrl + "/").toString(),
      // Fail fast: a local test server does not need retries.
      config: { fetchRetry: false, fetchTimeout: 30000 },
    });
    await updater.refresh();

    const targets = {};
    const downloaded = {};
    for (const targetPath of values.target) {
      const info = await updater.getTargetInfo(targetPath);
      targets[targetPath] = info !== undefined;
      if (info !== undefined && values.download) {
        const file = path.join(targetDir, `${Object.keys(downloaded).length}.bin`);
        await updater.downloadTarget(info, file);
        downloaded[targetPath] = crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");
      }
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
      ...(values.download ? { downloaded } : {}),
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
