import { workerEntry } from "../src/sweep/bundle.js";
for (let i = 0; i < 4; i++) { const a = performance.now(); const e = await workerEntry(); console.log("workerEntry ms", (performance.now() - a).toFixed(0), e.kind); e.cleanup(); }
