// Included by every shader. Tensors reach shaders as device addresses in the
// push constants (VK_KHR_buffer_device_address), already offset to the
// tensor's first element, so a shader indexes from 0 and needs no descriptor
// sets. One reference type per element type and alignment.
#extension GL_EXT_buffer_reference : require
#extension GL_EXT_shader_8bit_storage : require
#extension GL_EXT_shader_16bit_storage : require

layout(buffer_reference, std430, buffer_reference_align = 4) buffer F32s { float v[]; };
layout(buffer_reference, std430, buffer_reference_align = 16) buffer F32x4s { vec4 v[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) buffer I32s { int v[]; };
layout(buffer_reference, std430, buffer_reference_align = 4) buffer U32s { uint v[]; };
layout(buffer_reference, std430, buffer_reference_align = 16) buffer U32x4s { uvec4 v[]; };
layout(buffer_reference, std430, buffer_reference_align = 2) buffer U16s { uint16_t v[]; };
layout(buffer_reference, std430, buffer_reference_align = 1) buffer I8s { int8_t v[]; };

// Workgroup size: specialisation constant 0 in every shader.
layout(local_size_x_id = 0) in;
#define WG gl_WorkGroupSize.x

float bf16_to_f32(uint b) { return uintBitsToFloat(b << 16); }

// max(g, 0)^2 * u, precise (no fused multiply-add): relu2_mul and the fused
// norm both call this, so they agree bit for bit. The gate is selected as
// std::max(g, 0.0f) does in the reference (GLSL's max of a NaN is undefined):
// a NaN gate stays NaN.
float relu2_mul_one(float g, float u) {
  const float m = g < 0.0 ? 0.0 : g;
  precise float r = m * m * u;
  return r;
}
