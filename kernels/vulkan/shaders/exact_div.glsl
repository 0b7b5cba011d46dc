// Correctly rounded fp32 division (IEEE round-to-nearest-even). Vulkan allows
// OpFDiv an error of 2.5 ulp and drivers use a reciprocal, but the BitLinear
// contract (docs/design.md §2) needs the bits of a true division, twice:
// s = 127 / absmax and y = acc / s * w_scale. So the quotient is built from
// the operands' exponents and 24-bit significands by long division, with a
// round bit and a sticky bit, in integer arithmetic that every device does
// exactly. Subnormal operands and results are handled, and so are infinities,
// NaNs and a zero divisor, in integers too: the epilogue divides by s = NaN or
// s = 0 for a row of activations holding a NaN or an Inf (model/reference.h),
// and a shader's a / b need not keep IEEE special values.
float div_rn(float a, float b) {
  uint ua = floatBitsToUint(a), ub = floatBitsToUint(b);
  const uint sign = (ua ^ ub) & 0x80000000u;
  ua &= 0x7fffffffu;
  ub &= 0x7fffffffu;
  const uint inf = 0x7f800000u, nan = 0x7fc00000u;
  if (ua > inf || ub > inf || (ua == inf && ub == inf) || (ua == 0u && ub == 0u)) return uintBitsToFloat(nan);
  if (ua == inf || ub == 0u) return uintBitsToFloat(sign | inf);
  if (ub == inf) return uintBitsToFloat(sign);
  if (ua == 0u) return uintBitsToFloat(sign);
  // Significands with the hidden bit at bit 23; subnormals normalised.
  int ea = int(ua >> 23), eb = int(ub >> 23);
  uint ma = ua & 0x7fffffu, mb = ub & 0x7fffffu;
  if (ea == 0) {
    const int shift = 23 - findMSB(ma);
    ma <<= uint(shift);
    ea = 1 - shift;
  } else {
    ma |= 0x800000u;
  }
  if (eb == 0) {
    const int shift = 23 - findMSB(mb);
    mb <<= uint(shift);
    eb = 1 - shift;
  } else {
    mb |= 0x800000u;
  }
  int e = ea - eb + 127;  // biased exponent of the quotient once ma / mb is in [1, 2)
  if (ma < mb) {
    ma <<= 1;
    e -= 1;
  }
  // 25 quotient bits: q = floor(ma / mb * 2^24), the remainder decides "sticky".
  uint q = 0u, r = ma;
  for (int i = 0; i < 25; ++i) {
    q <<= 1;
    if (r >= mb) {
      r -= mb;
      q |= 1u;
    }
    r <<= 1;
  }
  if (e >= 255) return uintBitsToFloat(sign | 0x7f800000u);
  // Normal results drop one bit (the round bit); subnormal ones 2 - e bits.
  const uint drop = e >= 1 ? 1u : uint(2 - e);
  if (drop > 25u) return uintBitsToFloat(sign);
  uint m = q >> drop;
  const uint round_bit = (q >> (drop - 1u)) & 1u;
  const bool sticky = r != 0u || (q & ((1u << (drop - 1u)) - 1u)) != 0u;
  if (round_bit == 1u && (sticky || (m & 1u) == 1u)) m += 1u;
  // m carries the hidden bit, so it adds one to the exponent field: store e - 1.
  // A carry out of the significand moves to the next binade (or to infinity).
  const uint biased = e >= 1 ? uint(e - 1) : 0u;
  return uintBitsToFloat(sign | ((biased << 23) + m));
}

// The BitLinear epilogue: y = acc / s * w_scale with a true division and one
// rounded product (precise: no fused multiply-add).
float bitlinear_output(int acc, float s, float w_scale) {
  const float q = div_rn(float(acc), s);
  if ((floatBitsToUint(q) & 0x7fffffffu) > 0x7f800000u) return q;  // a NaN row stays NaN (see div_rn)
  precise float y = q * w_scale;
  return y;
}
