// Worker-thread entry of `moesim sweep`: registers tsx (as bin/moesim.js does) so the worker can
// load the TypeScript sources, then starts the point runner.
import { register } from "tsx/esm/api";

register();
await import(new URL("./worker-main.ts", import.meta.url).href);
