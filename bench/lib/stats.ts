/** The median of a non-empty list of numbers (the upper one of the two middle values for an even count). */
export function medianOf(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
}
