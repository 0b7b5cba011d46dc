// The GGUF reader and writer: a file built byte by byte with every value type,
// each kind of bad input (never a crash, always an InputError naming the key or
// tensor and the offset), and a real file written by another project.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <future>

#include "model/weights/gguf.h"
#include "model/weights/gguf_writer.h"
#include "model/weights/mapped_file.h"
#include "tests/io_test_util.h"

namespace bitlab {
namespace {

using test::Bytes;
using test::expect_fifo_refused;
using test::expect_input_error;

Bytes header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
  Bytes b;
  b.raw("GGUF").u32(version).u64(n_tensors).u64(n_kv);
  return b;
}

// Expects parse_gguf to refuse `b` (named "bad.gguf") with an InputError
// whose message holds every one of `parts`.
void expect_bad_gguf(const Bytes& b, std::initializer_list<std::string> parts) {
  expect_input_error([&] { parse_gguf(b.span(), "bad.gguf"); }, parts);
}

// One metadata pair of every type, then an F32 [3] and an I2_S [128] tensor.
Bytes every_type_file() {
  Bytes b = header(2, 15);
  b.str("k.u8").u32(0).put<uint8_t>(200);
  b.str("k.i8").u32(1).put<int8_t>(-100);
  b.str("k.u16").u32(2).put<uint16_t>(60000);
  b.str("k.i16").u32(3).put<int16_t>(-30000);
  b.str("k.u32").u32(4).put<uint32_t>(4000000000u);
  b.str("k.i32").u32(5).put<int32_t>(-2000000000);
  b.str("k.f32").u32(6).put<float>(1.5f);
  b.str("k.bool").u32(7).put<uint8_t>(1);
  b.str("k.string").u32(8).str("héllo");
  b.str("k.u64").u32(10).put<uint64_t>(1ull << 63);
  b.str("k.i64").u32(11).put<int64_t>(-(1ll << 62));
  b.str("k.f64").u32(12).put<double>(-0.25);
  b.str("k.arr_i32").u32(9).u32(5).u64(3).put<int32_t>(7).put<int32_t>(-8).put<int32_t>(9);
  b.str("k.arr_str").u32(9).u32(8).u64(2).str("a b").str("");
  b.str("k.arr_arr").u32(9).u32(9).u64(2).u32(0).u64(1).put<uint8_t>(5).u32(6).u64(1).put<float>(2.0f);
  b.str("w").u32(1).u64(3).u32(0).u64(0);      // F32 [3] at data offset 0
  b.str("t").u32(1).u64(128).u32(36).u64(32);  // I2_S [128] at data offset 32
  b.pad_to(32);
  for (int i = 0; i < 3; ++i) b.put<float>(float(i) + 0.5f);
  b.pad_to(32);
  for (int i = 0; i < 32; ++i) b.put<uint8_t>(0x55);
  b.put<float>(0.75f);
  for (int i = 0; i < 28; ++i) b.put<uint8_t>(0);
  return b;
}

TEST(Gguf, ReadsEveryValueTypeAndTensorFromHandBuiltBytes) {
  const Bytes b = every_type_file();
  const GgufFile g = parse_gguf(b.span(), "hand.gguf");
  EXPECT_EQ(g.version, 3u);
  ASSERT_EQ(g.metadata.size(), 15u);
  EXPECT_EQ(g.get_int("k.u8"), 200);
  EXPECT_EQ(g.get_int("k.i8"), -100);
  EXPECT_EQ(g.get_int("k.u16"), 60000);
  EXPECT_EQ(g.get_int("k.i16"), -30000);
  EXPECT_EQ(g.get_int("k.u32"), 4000000000ll);
  EXPECT_EQ(g.get_int("k.i32"), -2000000000);
  EXPECT_EQ(g.get_float_or("k.f32", 0), 1.5);
  EXPECT_TRUE(g.get_bool_or("k.bool", false));
  EXPECT_EQ(g.get_string("k.string"), "héllo");
  EXPECT_EQ(g.find("k.u64")->u, 1ull << 63);
  expect_input_error([&] { (void)g.get_int("k.u64"); }, {"k.u64", "out of range"});
  EXPECT_EQ(g.get_int("k.i64"), -(1ll << 62));
  EXPECT_EQ(g.get_float_or("k.f64", 0), -0.25);
  const GgufValue& ai = g.get_array("k.arr_i32", GgufType::I32);
  ASSERT_EQ(ai.count, 3u);
  EXPECT_EQ(ai.int_at(0), 7);
  EXPECT_EQ(ai.int_at(1), -8);
  EXPECT_EQ(ai.int_at(2), 9);
  const GgufValue& as = g.get_array("k.arr_str", GgufType::String);
  ASSERT_EQ(as.strings.size(), 2u);
  EXPECT_EQ(as.strings[0], "a b");
  EXPECT_EQ(as.strings[1], "");
  const GgufValue& aa = g.get_array("k.arr_arr", GgufType::Array);
  ASSERT_EQ(aa.items.size(), 2u);
  EXPECT_EQ(aa.items[0].int_at(0), 5);
  EXPECT_EQ(aa.items[1].float_at(0), 2.0);
  expect_input_error([&] { (void)g.get_string("k.u8"); }, {"k.u8", "u8", "expected a string"});
  expect_input_error([&] { (void)g.get_int("missing.key"); }, {"missing.key", "missing"});

  ASSERT_EQ(g.tensors.size(), 2u);
  const GgufTensor* w = g.tensor("w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->type, 0u);
  ASSERT_EQ(w->nbytes, 12u);
  float w1;
  std::memcpy(&w1, g.read(*w).data() + 4, 4);
  EXPECT_EQ(w1, 1.5f);
  EXPECT_EQ(w->file_offset % 32, 0u);
  const GgufTensor* t = g.tensor("t");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->nbytes, 128u / 4 + 32);
  EXPECT_EQ(t->file_offset, w->file_offset + 32);
}

TEST(Gguf, WriterReproducesTheHandBuiltLayout) {
  // The writer, given the same metadata and tensors, must produce the same bytes.
  const Bytes b = every_type_file();
  const GgufFile g = parse_gguf(b.span(), "hand.gguf");
  GgufWriter w;
  for (const auto& [key, value] : g.metadata) w.add_value(std::string(key), value);
  for (const GgufTensor& t : g.tensors)
    w.add_tensor(std::string(t.name), t.dims, GgmlType(t.type),
                 [&](const GgufWriter::Emit& emit) {
                   const std::vector<uint8_t> data = g.read(t);
                   emit(data.data(), data.size());
                 });
  const std::string path = test::temp_path("rewrite.gguf");
  w.write(path);
  auto f = MappedFile::open(path);
  const std::vector<uint8_t> got = f->copy(0, f->size());
  std::vector<uint8_t> want = b.b;
  while (want.size() % 32) want.push_back(0);  // the writer pads the last tensor too
  EXPECT_EQ(got, want);
}

TEST(Gguf, EveryTruncationIsAnErrorNeverACrash) {
  const Bytes b = every_type_file();
  for (size_t n = 0; n < b.b.size(); ++n) {
    const std::span<const uint8_t> cut(b.b.data(), n);
    EXPECT_THROW(parse_gguf(cut, "cut.gguf"), InputError) << "prefix of " << n << " bytes";
  }
}

TEST(Gguf, BadMagicAndVersion) {
  Bytes b = every_type_file();
  b.b[0] = 'X';
  expect_bad_gguf(b, {"bad.gguf", "not a GGUF", "offset 0"});
  Bytes v = header(0, 0, 4);
  expect_bad_gguf(v, {"version 4", "offset 4"});
  Bytes v1 = header(0, 0, 1);
  EXPECT_THROW(parse_gguf(v1.span(), "v1.gguf"), InputError);
  Bytes ok = header(0, 0, 2);
  EXPECT_NO_THROW(parse_gguf(ok.span(), "v2.gguf"));
}

TEST(Gguf, AbsurdCountsAndLengthsAreRefusedBeforeAllocating) {
  Bytes tensors = header(uint64_t(1) << 60, 0);
  expect_bad_gguf(tensors, {"tensor count", "offset 8"});
  Bytes kvs = header(0, ~uint64_t(0));
  expect_bad_gguf(kvs, {"metadata count", "offset 16"});
  Bytes arr = header(0, 1);
  arr.str("big").u32(9).u32(4).u64(uint64_t(1) << 61).u64(0);
  expect_bad_gguf(arr, {"'big'", "cannot fit"});
  Bytes strs = header(0, 1);
  strs.str("strs").u32(9).u32(8).u64(1000000).u64(0);
  expect_bad_gguf(strs, {"'strs'", "cannot fit"});
  Bytes str = header(0, 1);
  str.str("s").u32(8).u64(~uint64_t(0) - 3).raw("abc");
  expect_bad_gguf(str, {"'s'", "claims"});
  Bytes key = header(0, 1);
  key.u64(uint64_t(1) << 62).raw(std::string(20, 'k'));
  expect_bad_gguf(key, {"metadata key", "offset 24"});
  Bytes deep = header(0, 1);
  deep.str("deep").u32(9);
  for (int i = 0; i < 6; ++i) deep.u32(9).u64(1);
  deep.u32(0).u64(0);
  expect_bad_gguf(deep, {"'deep'", "nested"});
}

TEST(Gguf, BadValues) {
  Bytes type = header(0, 1);
  type.str("t").u32(13).u32(0);
  expect_bad_gguf(type, {"'t'", "unknown value type 13"});
  Bytes boolean = header(0, 1);
  boolean.str("b").u32(7).put<uint8_t>(2);
  expect_bad_gguf(boolean, {"'b'", "bool"});
  Bytes dup = header(0, 2);
  dup.str("x").u32(4).u32(1).str("x").u32(4).u32(2);
  expect_bad_gguf(dup, {"duplicate metadata key 'x'"});
  Bytes empty = header(0, 1);
  empty.str("").u32(4).u32(1);
  expect_bad_gguf(empty, {"empty metadata key"});
  Bytes align = header(0, 1);
  align.str("general.alignment").u32(4).u32(24);
  expect_bad_gguf(align, {"general.alignment 24", "power of two"});
}

// A file with one tensor `name` of `dims`, `type`, at data offset `offset`,
// followed by `data_bytes` bytes of data.
Bytes one_tensor(const std::string& name, std::vector<uint64_t> dims, uint32_t type, uint64_t offset,
                 size_t data_bytes) {
  Bytes b = header(1, 0);
  b.str(name).u32(uint32_t(dims.size()));
  for (uint64_t d : dims) b.u64(d);
  b.u32(type).u64(offset);
  b.pad_to(32);
  b.b.resize(b.b.size() + data_bytes, 0);
  return b;
}

TEST(Gguf, BadTensorTable) {
  EXPECT_NO_THROW(parse_gguf(one_tensor("ok", {4, 2}, 0, 0, 32).span(), "a.gguf"));
  expect_bad_gguf(one_tensor("past", {4, 2}, 0, 0, 31), {"'past'", "32 bytes at data offset 0", "past the end"});
  expect_bad_gguf(one_tensor("far", {4}, 0, uint64_t(1) << 62, 64), {"'far'", "past the end"});
  expect_bad_gguf(one_tensor("wrap", {4}, 0, ~uint64_t(31), 64), {"'wrap'", "past the end"});
  expect_bad_gguf(one_tensor("huge", {uint64_t(1) << 40, uint64_t(1) << 40}, 0, 0, 0), {"'huge'", "overflows"});
  expect_bad_gguf(one_tensor("bytes", {uint64_t(1) << 62}, 0, 0, 0), {"'bytes'", "overflows"});
  expect_bad_gguf(one_tensor("q", {32}, 99, 0, 64), {"'q'", "unsupported ggml type 99"});
  expect_bad_gguf(one_tensor("odd", {100}, 36, 0, 64), {"'odd'", "multiple of 128"});
  expect_bad_gguf(one_tensor("mis", {4}, 0, 8, 64), {"'mis'", "not a multiple of the alignment 32"});
  expect_bad_gguf(one_tensor("zero", {4, 0}, 0, 0, 64), {"'zero'", "dim 1 is 0"});
  expect_bad_gguf(one_tensor("five", {1, 1, 1, 1, 1}, 0, 0, 64), {"'five'", "5 dims"});
  Bytes dup = header(2, 0);
  dup.str("d").u32(1).u64(4).u32(0).u64(0).str("d").u32(1).u64(4).u32(0).u64(32).pad_to(32);
  dup.b.resize(dup.b.size() + 64);
  expect_bad_gguf(dup, {"duplicate tensor 'd'"});
}

TEST(Gguf, ReadsTheRealLlama3VocabularyFile) {
  BITLAB_NEED_VOCAB(dir);
  const GgufFile g = open_gguf(dir + "/ggml-vocab-llama-bpe.gguf");
  EXPECT_EQ(g.version, 3u);
  EXPECT_EQ(g.get_string("general.architecture"), "llama");
  EXPECT_EQ(g.get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(g.get_string("tokenizer.ggml.pre"), "llama-bpe");
  const GgufValue& tokens = g.get_array("tokenizer.ggml.tokens", GgufType::String);
  EXPECT_EQ(tokens.count, 128256u);
  EXPECT_EQ(tokens.strings[128000], "<|begin_of_text|>");
  EXPECT_EQ(tokens.strings[9906], "Hello");
  EXPECT_EQ(g.get_array("tokenizer.ggml.token_type", GgufType::I32).count, 128256u);
  EXPECT_GT(g.get_array("tokenizer.ggml.merges", GgufType::String).count, 200000u);
  EXPECT_EQ(g.get_int("tokenizer.ggml.bos_token_id"), 128000);
  EXPECT_TRUE(g.tensors.empty());

  // Re-encoding every value through the writer reproduces the other project's
  // header bytes exactly: both sides agree on every type's encoding.
  GgufWriter w;
  for (const auto& [key, value] : g.metadata) w.add_value(std::string(key), value);
  const std::string path = test::temp_path("vocab_rewrite.gguf");
  w.write(path);
  auto original = MappedFile::open(dir + "/ggml-vocab-llama-bpe.gguf");
  auto copy = MappedFile::open(path);
  // The header ends where the data section would start (past the end of this
  // file, which has no tensors, by the alignment padding).
  const size_t header_bytes = std::min(size_t(g.data_offset), original->size());
  ASSERT_GE(copy->size(), header_bytes);
  EXPECT_EQ(original->copy(0, header_bytes), copy->copy(0, header_bytes));
}

TEST(Gguf, MissingFileIsAUsageErrorNamingIt) {
  try {
    open_gguf("/nonexistent/dir/x.gguf");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/x.gguf"), std::string::npos);
  }
  const std::string empty = test::temp_path("empty.gguf");
  test::write_file(empty, {});
  expect_input_error([&] { open_gguf(empty); }, {"empty.gguf", "truncated"});
}

}  // namespace
TEST(Gguf, OverlappingTensorDataIsRefused) {
  Bytes b = header(2, 0);
  b.str("a").u32(1).u64(8).u32(0).u64(0);   // F32 [8]: data bytes 0..32
  b.str("b").u32(1).u64(8).u32(0).u64(0);   // the same bytes again
  b.pad_to(32);
  for (int i = 0; i < 8; ++i) b.put<float>(1.0f);
  expect_bad_gguf(b, {"bad.gguf", "tensors 'a' and 'b' overlap"});
  Bytes c = header(2, 0);
  c.str("a").u32(1).u64(16).u32(0).u64(0);  // F32 [16]: bytes 0..64
  c.str("b").u32(1).u64(8).u32(0).u64(32);  // starts inside a
  c.pad_to(32);
  for (int i = 0; i < 16; ++i) c.put<float>(1.0f);
  expect_bad_gguf(c, {"bad.gguf", "overlap at file offset"});
}

TEST(Gguf, UnknownTensorTypeNamesTheFile) {
  Bytes b = header(1, 0);
  b.str("x").u32(1).u64(8).u32(99).u64(0);
  b.pad_to(32);
  for (int i = 0; i < 8; ++i) b.put<float>(1.0f);
  expect_bad_gguf(b, {"bad.gguf", "tensor 'x'", "unsupported ggml type 99"});
}

TEST(Gguf, HugeCountsInASparseFileReserveNothingAbsurd) {
  // A 4 GiB sparse file whose header claims as many metadata pairs (and then
  // array elements) as 4 GiB could hold: the reader must refuse it with an
  // InputError, not reserve tens of GiB up front and die of std::bad_alloc.
  const std::string path = test::temp_path("sparse.gguf");
  const uint64_t size = uint64_t(4) << 30;
  Bytes b = header(0, (size - 24) / 16);
  b.str("k").u32(9).u32(8).u64((size - 64) / 8);  // an array of strings as long as the file allows
  test::write_file(path, b.b);
  std::filesystem::resize_file(path, size);
  expect_input_error([&] { open_gguf(path); }, {path, "runs past 64 MiB"});
  Bytes t = header((size - 24) / 37, 0);  // tensor infos
  test::write_file(path, t.b);
  std::filesystem::resize_file(path, size);
  expect_input_error([&] { open_gguf(path); }, {path, "empty name"});
}

TEST(Gguf, HeaderPastTheCapIsRefused) {
  const std::string path = test::temp_path("bigheader.gguf");
  Bytes b = header(0, 1);
  b.str("k").u32(8).u64(kMaxGgufHeaderBytes);  // one string longer than the cap
  test::write_file(path, b.b);
  std::filesystem::resize_file(path, kMaxGgufHeaderBytes + 4096);
  expect_input_error([&] { open_gguf(path); }, {path, "runs past 64 MiB"});
}

TEST(Gguf, HeaderLongerThanTheFirstCopyIsReadWhole) {
  // More than the 1 MiB first copied: the reader copies more and parses again.
  const std::string path = test::temp_path("longheader.gguf");
  Bytes b = header(0, 1);
  b.str("k").u32(8).str(std::string(3u << 20, 'x'));
  test::write_file(path, b.b);
  const GgufFile g = open_gguf(path);
  EXPECT_EQ(g.get_string("k").size(), size_t(3) << 20);
}

TEST(Gguf, FifoIsRefusedWithoutBlocking) {
  const std::string path = test::temp_path("fifo.gguf");
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  expect_fifo_refused(path, [&] { open_gguf(path); });
  expect_fifo_refused(path, [&] { MappedFile::open(path); });
}

TEST(Gguf, FileTruncatedAfterMappingIsAnInputErrorNotSigbus) {
  const std::string path = test::temp_path("shrinks.bin");
  test::write_file(path, std::vector<uint8_t>(1 << 16, 7));
  auto f = MappedFile::open(path);
  EXPECT_EQ(f->copy(1000, 10), std::vector<uint8_t>(10, 7));
  std::filesystem::resize_file(path, 100);
  expect_input_error([&] { (void)f->copy(8192, 4096); }, {"'" + path + "' changed while being read", "offset 8192"});
  expect_input_error([&] { (void)f->copy(0, 1 << 16); }, {path, "changed while being read"});
  EXPECT_EQ(f->copy(0, 100), std::vector<uint8_t>(100, 7));  // what is still there reads as before
  expect_input_error([&] { (void)f->copy(1 << 16, 1); }, {path, "past the end"});
}

}  // namespace bitlab
