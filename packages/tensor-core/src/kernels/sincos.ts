/**
 * WGSL `sincos(a: f32) -> vec2f` = (sin a, cos a) with absolute error ≈ 1e-7 for |a| < 2¹⁵·π/2.
 *
 * WGSL only promises 2⁻¹¹ absolute error for `sin`/`cos`, and only inside [−π, π], which is far
 * too coarse for rotary angles (position × frequency reaches thousands of radians). So: Cody–Waite
 * reduction a = k·π/2 + r with π/2 split in three parts (the first with 8 significant bits, so
 * k·C1 is exact for k < 2¹⁵), then Cephes' sinf/cosf minimax polynomials on |r| ≤ π/4, then the
 * quadrant k mod 4 picks and signs them.
 */
export const sincosWgsl = /* wgsl */ `// sincos: (sin a, cos a) in f32, reduced by k*pi/2 (Cody-Waite)
fn sincos(a: f32) -> vec2f {
  let k = round(a * 0.63661977236758134);
  let r = ((a - k * 1.5703125) - k * 4.837512969970703125e-4) - k * 7.549789954891882e-8;
  let r2 = r * r;
  let s = r + r * r2 * (-1.6666654611e-1 + r2 * (8.3321608736e-3 + r2 * -1.9515295891e-4));
  let c = 1.0 - 0.5 * r2
    + r2 * r2 * (4.166664568298827e-2 + r2 * (-1.388731625493765e-3 + r2 * 2.443315711809948e-5));
  let q = u32(i32(k) & 3);
  if (q == 0u) {
    return vec2f(s, c);
  }
  if (q == 1u) {
    return vec2f(c, -s);
  }
  if (q == 2u) {
    return vec2f(-s, -c);
  }
  return vec2f(-c, s);
}
`;
