#include "harness/npy.h"

#include <charconv>
#include <cstring>
#include <string_view>

#include <fmt/format.h>

#include "model/error.h"
#include "model/weights/atomic_write.h"
#include "model/weights/mapped_file.h"

namespace bitlab {
namespace {

constexpr std::string_view kMagic("\x93NUMPY", 6);
// numpy refuses headers longer than this (numpy.lib.format._MAX_HEADER_SIZE
// is 10000); a few hundred bytes is all a 2-D shape needs.
constexpr uint64_t kMaxHeaderBytes = 10000;

// A cursor over the header dict: the few Python literals a .npy header holds.
class DictReader {
 public:
  DictReader(std::string_view text, const std::string& path) : s_(text), path_(path) {}

  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool accept(char c) {
    skip_space();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!accept(c)) fail(fmt::format("expected '{}'", c));
  }
  std::string string() {
    skip_space();
    if (i_ >= s_.size() || (s_[i_] != '\'' && s_[i_] != '"')) fail("expected a quoted string");
    const char q = s_[i_++];
    const size_t end = s_.find(q, i_);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string v(s_.substr(i_, end - i_));
    i_ = end + 1;
    return v;
  }
  bool boolean() {
    skip_space();
    for (const auto& [word, value] : {std::pair{std::string_view("True"), true}, {"False", false}})
      if (s_.substr(i_, word.size()) == word) {
        i_ += word.size();
        return value;
      }
    fail("expected True or False");
  }
  // A tuple of non-negative integers: "()", "(3,)", "(3, 4)".
  std::vector<int64_t> shape() {
    expect('(');
    std::vector<int64_t> dims;
    while (!accept(')')) {
      skip_space();
      int64_t v = 0;
      const auto [stop, ec] = std::from_chars(s_.data() + i_, s_.data() + s_.size(), v);
      if (ec != std::errc() || v < 0) fail("expected a dimension (a non-negative integer that fits 64 bits)");
      i_ = size_t(stop - s_.data());
      dims.push_back(v);
      if (!accept(',')) {
        expect(')');
        break;
      }
    }
    return dims;
  }
  bool at_end() {
    skip_space();
    return i_ == s_.size();
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw InputError(fmt::format("'{}': bad .npy header at byte {} of the dict: {}", path_, i_, what));
  }

 private:
  std::string_view s_;
  const std::string& path_;
  size_t i_ = 0;
};

struct Header {
  std::string descr;
  bool fortran_order = true;
  std::vector<int64_t> shape;
  uint64_t data_offset = 0;
};

Header read_header(const MappedFile& f) {
  const std::string& path = f.path();
  if (f.size() < kMagic.size() + 2) throw InputError(fmt::format("'{}' is too short to be a .npy file", path));
  const std::vector<uint8_t> lead = f.copy(0, kMagic.size() + 2);
  if (std::memcmp(lead.data(), kMagic.data(), kMagic.size()) != 0)
    throw InputError(fmt::format("'{}' is not a .npy file (no \\x93NUMPY magic)", path));
  const int major = lead[6];
  if (major < 1 || major > 3)
    throw InputError(fmt::format("'{}': .npy version {}.{} is not supported (1.0 to 3.0 are)", path, major, lead[7]));
  const uint64_t len_bytes = major == 1 ? 2 : 4;
  if (f.size() < 8 + len_bytes) throw InputError(fmt::format("'{}': the .npy header length is cut off", path));
  const std::vector<uint8_t> lb = f.copy(8, len_bytes);
  const uint64_t header_len = major == 1 ? uint64_t(lb[0]) | uint64_t(lb[1]) << 8
                                         : uint64_t(lb[0]) | uint64_t(lb[1]) << 8 | uint64_t(lb[2]) << 16 |
                                               uint64_t(lb[3]) << 24;
  Header h;
  h.data_offset = 8 + len_bytes + header_len;
  if (header_len > kMaxHeaderBytes || h.data_offset > f.size())
    throw InputError(fmt::format("'{}': the .npy header claims {} bytes, past the end of the file ({} bytes)", path,
                                 header_len, f.size()));
  std::string text(header_len, '\0');
  f.copy(8 + len_bytes, text.data(), header_len);

  DictReader d(text, path);
  bool have_descr = false, have_order = false, have_shape = false;
  d.expect('{');
  while (!d.accept('}')) {
    const std::string key = d.string();
    d.expect(':');
    if (key == "descr" && !have_descr) {
      h.descr = d.string();
      have_descr = true;
    } else if (key == "fortran_order" && !have_order) {
      h.fortran_order = d.boolean();
      have_order = true;
    } else if (key == "shape" && !have_shape) {
      h.shape = d.shape();
      have_shape = true;
    } else {
      d.fail(fmt::format("unexpected or repeated key '{}'", key));
    }
    if (!d.accept(',')) {
      d.expect('}');
      break;
    }
  }
  if (!d.at_end()) d.fail("text after the dict");
  if (!have_descr || !have_order || !have_shape) d.fail("the dict needs 'descr', 'fortran_order' and 'shape'");
  return h;
}

}  // namespace

std::string npy_f32_header(int64_t rows, int64_t cols) {
  std::string dict = fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}", rows, cols);
  const size_t prefix = kMagic.size() + 2 + 2;  // magic, version, uint16 length
  // Spaces, then '\n', so that the data starts on a 64-byte boundary.
  dict.append((64 - (prefix + dict.size() + 1) % 64) % 64, ' ');
  dict.push_back('\n');
  std::string out(kMagic);
  out.push_back('\x01');
  out.push_back('\x00');
  out.push_back(char(dict.size() & 0xff));
  out.push_back(char(dict.size() >> 8));
  return out + dict;
}

void write_npy_f32(const std::string& path, std::span<const float> data, int64_t rows, int64_t cols) {
  if (rows < 0 || cols < 0 || data.size() != size_t(rows) * size_t(cols))
    throw std::logic_error(fmt::format("write_npy_f32: {} floats for shape ({}, {})", data.size(), rows, cols));
  const std::string header = npy_f32_header(rows, cols);
  write_file_atomically(path, [&](const ByteSink& sink) {
    sink(header.data(), header.size());
    sink(data.data(), data.size_bytes());  // every target is little-endian: '<f4' is the memory layout
  });
}

NpyMatrix read_npy_matrix(const std::string& path, int64_t rows, int64_t cols) {
  const auto f = MappedFile::open(path);
  const Header h = read_header(*f);
  if (h.descr != "<f4" && h.descr != "<f8")
    throw InputError(fmt::format("'{}': dtype '{}' is not supported (expected '<f4' or '<f8', little-endian float32 "
                                 "or float64)",
                                 path, h.descr));
  if (h.fortran_order)
    throw InputError(fmt::format("'{}': fortran_order is True; expected a C-order (row-major) array", path));
  const bool shape_ok = h.shape.size() == 2 && h.shape[0] == rows && h.shape[1] == cols;
  if (!shape_ok) {
    std::string dims;
    for (int64_t d : h.shape) dims += fmt::format("{}{}", dims.empty() ? "" : ", ", d);
    throw InputError(fmt::format("'{}': shape ({}) does not match the expected ({}, {}) [positions, vocabulary]",
                                 path, dims, rows, cols));
  }
  const uint64_t elem = h.descr == "<f4" ? 4 : 8;
  const uint64_t count = checked_mul(uint64_t(rows), uint64_t(cols), path);
  const uint64_t bytes = checked_mul(count, elem, path);
  const uint64_t have = f->size() - h.data_offset;
  if (have != bytes)
    throw InputError(fmt::format("'{}': {} bytes of data for shape ({}, {}) of '{}', which needs {}{}", path, have,
                                 rows, cols, h.descr, bytes, have < bytes ? " (truncated)" : " (trailing bytes)"));
  NpyMatrix m{rows, cols, std::vector<float>(count)};
  if (elem == 4) {
    f->copy(h.data_offset, m.data.data(), bytes);
  } else {
    // float64 in blocks, so the file's values never need a second full-size buffer.
    std::vector<double> block(1 << 16);
    for (uint64_t done = 0; done < count;) {
      const uint64_t n = std::min<uint64_t>(block.size(), count - done);
      f->copy(h.data_offset + done * 8, block.data(), n * 8);
      for (uint64_t i = 0; i < n; ++i) m.data[done + i] = float(block[i]);
      done += n;
    }
  }
  return m;
}

}  // namespace bitlab
