// The benchmarks' one statistic: the middle value (the upper middle of an even count).
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}
