/** Bytes in binary units for people: "512 B", "1.50 KiB", "12.00 MiB". */
export function fmtBytes(b: number): string {
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let x = b;
  while (x >= 1024 && i < u.length - 1) {
    x /= 1024;
    i++;
  }
  return `${x.toFixed(i === 0 ? 0 : 2)} ${u[i]}`;
}
