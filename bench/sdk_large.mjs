// One large upload with the official SDK, run under /usr/bin/time by
// bench/run: read the file, base64 it in Node (the SDK takes only a base64
// string), addCandidateAttachment.
//
//   node bench/sdk_large.mjs SERVER_URL FILE
import { readFileSync } from "node:fs";
import { Kombo } from "@kombo-api/sdk";

const [serverURL, file] = process.argv.slice(2);
if (!serverURL || !file) {
  console.error("usage: sdk_large.mjs SERVER_URL FILE");
  process.exit(2);
}

const kombo = new Kombo({
  api_key: "bench-key",
  integration_id: "workday:bench",
  server_url: serverURL,
  timeout_ms: 120000,
});

const res = await kombo.ats.addCandidateAttachment({
  candidate_id: "cand_bench_1",
  body: {
    attachment: {
      name: "Resume.pdf",
      content_type: "application/pdf",
      data: readFileSync(file).toString("base64"),
      type: "CV",
    },
  },
});
if (!res || res.status !== "success") {
  console.error("unexpected answer: " + JSON.stringify(res));
  process.exit(1);
}
