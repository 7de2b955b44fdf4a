/**
 * One sequential scale for every heatmap: 0 is the card's own background, 1 a saturated
 * indigo, so the eye reads "darker = more" in attention, lens and loss alike.
 */
export function heat(value: number): string {
  const v = Math.min(1, Math.max(0, value));
  // Perceptually even enough from white to indigo for a sequential scale.
  const lightness = 97 - v * 62;
  const saturation = 30 + v * 45;
  return `hsl(235 ${saturation.toFixed(0)}% ${lightness.toFixed(0)}%)`;
}

/** Text colour that stays readable on {@link heat}'s background. */
export function inkOn(value: number): string {
  return value > 0.55 ? '#fff' : '#1c2330';
}

/** Colour of checkpoint `index` of `count`: early training light, late training dark. */
export function trainingColour(index: number, count: number): string {
  const t = count <= 1 ? 1 : index / (count - 1);
  return `hsl(${(30 + t * 200).toFixed(0)} 70% ${(60 - t * 25).toFixed(0)}%)`;
}
