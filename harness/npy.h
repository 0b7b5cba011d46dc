// NumPy's .npy format for logits [positions, vocabulary]: what `bitlab score
// --logits-out` writes and `bitlab check --against` reads, so logits move
// between this lab, NumPy and other engines without a converter.
//
// Format (numpy.lib.format): the magic "\x93NUMPY", a major and minor version
// byte, the header length (uint16 little-endian in version 1.0, uint32 in 2.0
// and 3.0), then the header: a Python dict literal
//   {'descr': '<f4', 'fortran_order': False, 'shape': (P, V), }
// padded with spaces and ended by '\n' so that the data starts at a multiple
// of 64 bytes; then the elements, row-major.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace bitlab {

// The magic, version 1.0, header length and the padded header for a
// little-endian float32 C-order matrix [rows, cols].
std::string npy_f32_header(int64_t rows, int64_t cols);

// Writes `data` ([rows, cols], row-major) as a version 1.0 float32 .npy file,
// whole or not at all (write_file_atomically), streamed from `data` without a copy.
void write_npy_f32(const std::string& path, std::span<const float> data, int64_t rows, int64_t cols);

struct NpyMatrix {
  int64_t rows = 0, cols = 0;
  std::vector<float> data;  // row-major; float64 files are rounded to float32
};

// Reads a 2-D little-endian float32 ('<f4') or float64 ('<f8') C-order .npy
// file whose shape must be exactly [rows, cols]. Everything in the file is
// checked before anything is allocated from it: the magic, the version, the
// header length against the file's size, the dict's keys and values, and the
// data's size against the shape. Any mismatch is an InputError naming the file.
NpyMatrix read_npy_matrix(const std::string& path, int64_t rows, int64_t cols);

}  // namespace bitlab
