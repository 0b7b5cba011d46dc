// The int8 activation quantiser shared by quantize.comp and the fused norms in
// rmsnorm.comp, bit-exact with ref::quantize_act, non-finite rows included
// (the rule is in model/reference.h: a row holding a NaN gets s = NaN, one
// holding ±Inf s = +0, and either gets all-zero codes).
// GLSL leaves max/clamp of a NaN undefined and a shader may assume no NaN in
// float compares, so the rule is carried out on bit patterns: the absmax is an
// unsigned max of the |x| patterns (the numeric order for non-negative floats,
// every NaN above +Inf) and the non-finite case is decided on those integers.
// Needs common.glsl (WG) and exact_div.glsl (div_rn) included first.

const uint kActInfBits = 0x7f800000u;
const uint kActNanBits = 0x7fc00000u;  // the canonical quiet NaN, as the reference stores it

shared uint act_max_scratch[WG];

uint act_abs_bits(float x) { return floatBitsToUint(x) & 0x7fffffffu; }

// Every invocation must call it (barriers) and every one gets the result.
uint workgroup_max_bits(uint v) {
  const uint i = gl_LocalInvocationIndex;
  act_max_scratch[i] = v;
  barrier();
  for (uint s = WG / 2; s > 0; s >>= 1) {
    if (i < s) act_max_scratch[i] = max(act_max_scratch[i], act_max_scratch[i + s]);
    barrier();
  }
  const uint r = act_max_scratch[0];
  barrier();
  return r;
}

// A row whose absmax pattern is this gets codes from its products; any other
// row (NaN or ±Inf in it) gets all-zero codes.
bool act_row_finite(uint absmax_bits) { return absmax_bits < kActInfBits; }

// s = 127 / max(absmax, 1e-5) as a true division; NaN or +0 for a non-finite row.
float act_scale(uint absmax_bits) {
  if (absmax_bits > kActInfBits) return uintBitsToFloat(kActNanBits);
  if (absmax_bits == kActInfBits) return 0.0;
  return div_rn(127.0, max(uintBitsToFloat(absmax_bits), 1e-5));
}

// clamp(round_half_even(x * s), -128, 127) with one fp32 product, for a finite row.
// An int, narrowed by the caller's store: an int8 value anywhere but in a store
// would need the Int8 arithmetic capability, which not every device has.
int act_code(float x, float s) {
  precise float p = x * s;
  return int(clamp(roundEven(p), -128.0, 127.0));
}
