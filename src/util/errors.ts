/**
 * An error in what the user gave (a scenario, a trace, a flag). The CLI prints its message on one
 * line and exits with code 2, never with a stack trace.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly where?: string,
  ) {
    super(where ? `${where}: ${message}` : message);
    this.name = "UserError";
  }
}

export const EXIT_OK = 0;
export const EXIT_INTERNAL = 1;
export const EXIT_USER = 2;

/** Lists valid values in an error message: "a, b or c". */
export function listValues(values: readonly string[]): string {
  if (values.length <= 1) return values.join("");
  return `${values.slice(0, -1).join(", ")} or ${values[values.length - 1]}`;
}
