import type { ScheduledEvent } from "./queue.js";

/** One executed event, as written to the JSONL log. */
export interface LogRecord {
  t: number;
  seq: number;
  p: number;
  name: string;
}

/** An in-memory event log, serialised as JSONL. Only exists when switched on. */
export class EventLog {
  readonly records: LogRecord[] = [];
  record(e: ScheduledEvent): void {
    this.records.push({ t: e.time, seq: e.seq, p: e.priority, name: e.name });
  }
  toJSONL(): string {
    let s = "";
    for (const r of this.records) s += JSON.stringify(r) + "\n";
    return s;
  }
}
