// Compiles contracts/src/*.sol offline with the pinned solc-js and OpenZeppelin from node_modules.
// Deterministic: fixed optimizer settings, no metadata hash, sorted inputs, stable JSON output,
// so recompiling reproduces contracts/artifacts/*.json byte for byte.
//
//   node contracts/build.mjs [--out DIR]      (default DIR: contracts/artifacts)
import { readFileSync, readdirSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const require = createRequire(import.meta.url);
const solc = require(join(root, "node_modules", "solc"));

const EXPECTED_SOLC = "0.8.37";
const CONTRACTS = ["TestUSDC", "TestToken18", "Payer", "MockV3Aggregator", "ForwardOnReceive"];

function parseOut(argv) {
  const i = argv.indexOf("--out");
  if (i === -1) return join(here, "artifacts");
  if (i + 1 >= argv.length) {
    console.error("usage: node contracts/build.mjs [--out DIR]");
    process.exit(2);
  }
  return resolve(argv[i + 1]);
}

function findImport(path) {
  const candidates = [join(root, "node_modules", path), join(here, path)];
  for (const p of candidates) {
    if (existsSync(p)) return { contents: readFileSync(p, "utf8") };
  }
  return { error: `import not found offline: ${path}` };
}

const version = solc.version();
if (!version.startsWith(EXPECTED_SOLC + "+")) {
  console.error(`solc ${EXPECTED_SOLC} expected, found ${version}`);
  process.exit(1);
}

const sources = {};
for (const file of readdirSync(join(here, "src")).filter((f) => f.endsWith(".sol")).sort()) {
  sources[`src/${file}`] = { content: readFileSync(join(here, "src", file), "utf8") };
}

const input = {
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    metadata: { bytecodeHash: "none", appendCBOR: false },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
  },
};

const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport }));
const errors = (output.errors || []).filter((e) => e.severity === "error");
for (const e of output.errors || []) console.error(e.formattedMessage);
if (errors.length) process.exit(1);

const outDir = parseOut(process.argv.slice(2));
mkdirSync(outDir, { recursive: true });
for (const name of CONTRACTS) {
  const sourceName = `src/${name}.sol`;
  const compiled = output.contracts[sourceName]?.[name];
  if (!compiled) {
    console.error(`contract ${name} missing from ${sourceName}`);
    process.exit(1);
  }
  const artifact = {
    contractName: name,
    sourceName: `contracts/${sourceName}`,
    compiler: { name: "solc-js", version, settings: input.settings },
    abi: compiled.abi,
    bytecode: "0x" + compiled.evm.bytecode.object,
    deployedBytecode: "0x" + compiled.evm.deployedBytecode.object,
  };
  writeFileSync(join(outDir, `${name}.json`), JSON.stringify(artifact, null, 2) + "\n");
}
console.log(`compiled ${CONTRACTS.length} contracts with solc ${version} into ${outDir}`);
