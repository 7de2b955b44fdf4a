/** Bytes as a person reads them: 6.5 MB, 1.12 GB. */
export function formatBytes(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  if (bytes >= 1e3) return `${(bytes / 1e3).toFixed(1)} kB`;
  return `${bytes} B`;
}

/** A number with a fixed count of significant digits, without exponent noise for usual sizes. */
export function round(value: number, digits = 6): number {
  return Number(value.toPrecision(digits));
}
