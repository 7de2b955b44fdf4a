/**
 * WGSL functions (no entry point) for the error function, which WGSL lacks.
 *
 * `erfc_abs_over_sqrt2(x)` = erfc(|x|/√2) with relative error < 3e-7: Numerical Recipes' Chebyshev
 * fit (fractional error < 1.2e-7). The exponent −x²/2 is evaluated as −hi²/2 − (x−hi)(x+hi)/2
 * with `hi` = x truncated to 12 significant bits (so hi² is exact), because rounding x/√2 first
 * would cost x²·6e-8 of relative error in the tail.
 *
 * `erf(z)` has absolute error < 2e-7: an odd Maclaurin polynomial to z¹³ for |z| < 0.5
 * (truncation < 2e-9, and no cancellation near 0), else ±(1 − erfc(|z|)).
 */
export const erfWgsl = /* wgsl */ `// erf, erfc(|x|/sqrt2): f32 approximations, |error| < 3e-7
fn erfc_abs_over_sqrt2(x: f32) -> f32 {
  let ax = abs(x);
  let t = 1.0 / (1.0 + 0.5 * (ax * 0.70710678118654752));
  let p = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
    + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223
    + t * 0.17087277))))))));
  let hi = bitcast<f32>(bitcast<u32>(ax) & 0xfffff000u);
  let lo = (ax - hi) * (ax + hi);
  return t * exp(-0.5 * (hi * hi)) * exp(p - 0.5 * lo);
}

fn erf(z: f32) -> f32 {
  if (abs(z) < 0.5) {
    let s = z * z;
    return z * (1.1283791670955126 + s * (-0.3761263890318375 + s * (0.11283791670955126
      + s * (-0.026866170645131254 + s * (0.005223977625442188 + s * (-0.0008548327023450852
      + s * 0.00012055332981789664))))));
  }
  return sign(z) * (1.0 - erfc_abs_over_sqrt2(z * 1.4142135623730951));
}
`;
