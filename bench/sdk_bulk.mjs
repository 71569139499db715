// Bulk uploads through the official SDK (@kombo-api/sdk) on Node: one Kombo
// instance, a pool of CONCURRENCY promises, each awaiting
// addCandidateAttachment and then taking the next upload (Node's fetch opens
// a kept-alive connection per promise).  The SDK's default retry policy.
//
//   node bench/sdk_bulk.mjs SERVER_URL CV_FILE N CONCURRENCY
//
// Upload i (1..N) goes to candidate "cand_bulk_<i>", like bench/bulk.lua.
// Prints "<succeeded> <failed> <seconds> 0" like bench/bulk.lua (seconds:
// performance.now() around the pool); the first failures go to stderr.
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { Kombo } from "@kombo-api/sdk";

const [serverURL, cvFile, nArg, concArg] = process.argv.slice(2);
const n = Number(nArg), concurrency = Number(concArg);
if (!serverURL || !cvFile || !(n > 0) || !(concurrency > 0)) {
  console.error("usage: sdk_bulk.mjs SERVER_URL CV_FILE N CONCURRENCY");
  process.exit(2);
}

const kombo = new Kombo({
  api_key: "bench-key",
  integration_id: "workday:bench",
  server_url: serverURL,
  timeout_ms: 30000,
});

const attachment = {
  name: "Resume.pdf",
  content_type: "application/pdf",
  data: readFileSync(cvFile).toString("base64"),
  type: "CV",
};

let next = 1, ok = 0, failed = 0;
function fail(i, what) {
  failed++;
  if (failed <= 5) console.error(`sdk_bulk.mjs: upload ${i} failed: ${what}`);
}

async function worker() {
  while (next <= n) {
    const i = next++;
    try {
      const res = await kombo.ats.addCandidateAttachment({ candidate_id: `cand_bulk_${i}`, body: { attachment } });
      if (res && res.status === "success") ok++;
      else fail(i, "unexpected answer: " + JSON.stringify(res));
    } catch (e) {
      fail(i, String(e && e.message || e));
    }
  }
}

const t0 = performance.now();
await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
const secs = (performance.now() - t0) / 1000;
process.stdout.write(`${ok} ${failed} ${secs.toFixed(6)} 0\n`);
