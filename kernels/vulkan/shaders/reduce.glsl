// Workgroup-wide reductions through shared memory (WG must be a power of two).
// Every invocation must call them (they contain barriers) and every one gets
// the result. The summation order is fixed by WG alone, so two shaders that
// reduce the same values with the same WG get the same bits.
shared float reduce_scratch[WG];

float workgroup_sum(float v) {
  const uint i = gl_LocalInvocationIndex;
  reduce_scratch[i] = v;
  barrier();
  for (uint s = WG / 2; s > 0; s >>= 1) {
    if (i < s) reduce_scratch[i] = reduce_scratch[i] + reduce_scratch[i + s];
    barrier();
  }
  const float r = reduce_scratch[0];
  barrier();
  return r;
}

float workgroup_max(float v) {
  const uint i = gl_LocalInvocationIndex;
  reduce_scratch[i] = v;
  barrier();
  for (uint s = WG / 2; s > 0; s >>= 1) {
    if (i < s) reduce_scratch[i] = max(reduce_scratch[i], reduce_scratch[i + s]);
    barrier();
  }
  const float r = reduce_scratch[0];
  barrier();
  return r;
}
