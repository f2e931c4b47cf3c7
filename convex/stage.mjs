#!/usr/bin/env node
// Runs the Convex CLI on these functions from a staged project.
//
// Why: this folder is both the functions directory and an npm package (its
// own package.json and node_modules). The Convex CLI bundles every file
// under the functions directory, node_modules included, so it cannot run
// here directly. This script copies the function sources into
// `.deploy/convex/` (a standard Convex project: package.json at the top,
// functions in convex/, node_modules linked), runs `convex <args>` there,
// and copies the regenerated `_generated/` back.
//
//   node stage.mjs codegen --system-udfs --init --typecheck disable   (offline)
//   node stage.mjs deploy                                              (CONVEX_DEPLOY_KEY set)
//   node stage.mjs env set CLERK_FRONTEND_API_URL https://...
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  rmSync,
  symlinkSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const stage = join(here, ".deploy");
const functions = join(stage, "convex");

// Function sources only: no tests, configs of the tools, or scripts.
const isSource = (name) =>
  /^[A-Za-z0-9_]+\.ts$/.test(name) && name !== "vitest.config.ts";

mkdirSync(stage, { recursive: true });
rmSync(functions, { recursive: true, force: true });
mkdirSync(functions, { recursive: true });
for (const name of readdirSync(here)) {
  if (isSource(name) || name === "auth.config.ts") {
    cpSync(join(here, name), join(functions, name));
  }
}
cpSync(join(here, "tsconfig.json"), join(functions, "tsconfig.json"));
if (existsSync(join(here, "_generated"))) {
  cpSync(join(here, "_generated"), join(functions, "_generated"), { recursive: true });
}
cpSync(join(here, "package.json"), join(stage, "package.json"));
if (!existsSync(join(stage, "node_modules"))) {
  symlinkSync(join(here, "node_modules"), join(stage, "node_modules"), "dir");
}

const cli = join(here, "node_modules", "convex", "bin", "main.js");
const result = spawnSync(process.execPath, [cli, ...process.argv.slice(2)], {
  cwd: stage,
  stdio: "inherit",
  env: process.env,
});
if (result.status === 0 && existsSync(join(functions, "_generated"))) {
  rmSync(join(here, "_generated"), { recursive: true, force: true });
  cpSync(join(functions, "_generated"), join(here, "_generated"), { recursive: true });
}
process.exit(result.status ?? 1);
