// Small-attachment throughput of the official SDK (@kombo-api/sdk) on Node:
// N sequential awaited addCandidateAttachment calls on one Kombo instance
// (Node's fetch keeps the connection alive).
//
//   node bench/sdk_small.mjs SERVER_URL CV_FILE N WARMUP
//
// Prints "<calls per second> <seconds> <N>", like bench/small.lua.
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { Kombo } from "@kombo-api/sdk";

const [serverURL, cvFile, nArg, warmupArg] = process.argv.slice(2);
const n = Number(nArg), warmup = Number(warmupArg);
if (!serverURL || !cvFile || !(n > 0) || !(warmup >= 0)) {
  console.error("usage: sdk_small.mjs SERVER_URL CV_FILE N WARMUP");
  process.exit(2);
}

const kombo = new Kombo({
  api_key: "bench-key",
  integration_id: "workday:bench",
  server_url: serverURL,
  timeout_ms: 30000,
});

const request = {
  candidate_id: "cand_bench_1",
  body: {
    attachment: {
      name: "Resume.pdf",
      content_type: "application/pdf",
      data: readFileSync(cvFile).toString("base64"),
      type: "CV",
    },
  },
};

async function call() {
  const res = await kombo.ats.addCandidateAttachment(request);
  if (!res || res.status !== "success") throw new Error("unexpected answer: " + JSON.stringify(res));
  return res;
}

for (let i = 0; i < warmup; i++) await call();
await call();
const t0 = performance.now();
for (let i = 0; i < n; i++) await call();
const t1 = performance.now();
const secs = (t1 - t0) / 1000;
process.stdout.write(`${(n / secs).toFixed(1)} ${secs.toFixed(6)} ${n}\n`);
