// Token ids and logits in and out: the .npy writer and reader, id lists,
// `run`/`generate --prompt-ids`, `score` and `check --against`, so that other
// engines can be compared with this lab on identical ids.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/ids_file.h"
#include "harness/npy.h"
#include "model/error.h"
#include "tests/cli_test_util.h"

namespace {

using bitlab::UsageError;
using bitlab::test::Bytes;
using bitlab::test::expect_input_error;
using bitlab::test::line_with;
using bitlab::test::run_bitlab;
using bitlab::test::slurp;
using bitlab::test::temp_path;
using bitlab::test::write_file;
namespace cli = bitlab::cli;

void write_text(const std::string& path, const std::string& text) {
  write_file(path, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

// A .npy file laid out by hand: magic, version 1.0, the dict padded as given, data.
Bytes npy_bytes(const std::string& dict, const std::vector<uint8_t>& data, const std::string& magic = "\x93NUMPY") {
  std::string header = dict;
  while ((10 + header.size() + 1) % 64) header += ' ';
  header += '\n';
  Bytes b;
  b.raw(magic).put(uint8_t(1)).put(uint8_t(0)).put(uint16_t(header.size())).raw(header);
  b.b.insert(b.b.end(), data.begin(), data.end());
  return b;
}

template <class T>
std::vector<uint8_t> raw(const std::vector<T>& v) {
  std::vector<uint8_t> out(v.size() * sizeof(T));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

// ---- .npy ----

TEST(Npy, RoundTripWithAHeaderPaddedTo64) {
  const std::vector<float> data = {1.0f, -2.5f, 3.25f, 0.0f, 1e-30f, -7.0f};
  const std::string path = temp_path("round.npy");
  bitlab::write_npy_f32(path, data, 2, 3);
  const std::string bytes = slurp(path);
  ASSERT_GE(bytes.size(), 10u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const size_t header_len = uint8_t(bytes[8]) | size_t(uint8_t(bytes[9])) << 8;
  EXPECT_EQ((10 + header_len) % 64, 0u);
  EXPECT_EQ(bytes.size(), 10 + header_len + data.size() * 4);
  const std::string header = bytes.substr(10, header_len);
  EXPECT_EQ(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 0), 0u) << header;
  EXPECT_EQ(header.back(), '\n');
  const bitlab::NpyMatrix m = bitlab::read_npy_matrix(path, 2, 3);
  EXPECT_EQ(m.rows, 2);
  EXPECT_EQ(m.cols, 3);
  EXPECT_EQ(m.data, data);
}

TEST(Npy, ReadsFloat64AndNumpysOwnSpelling) {
  const std::string path = temp_path("f8.npy");
  // NumPy writes the keys in this order, with no space after the last comma in the shape.
  write_file(path, npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }",
                             raw(std::vector<double>{0.5, -1.25}))
                       .span());
  const bitlab::NpyMatrix m = bitlab::read_npy_matrix(path, 1, 2);
  EXPECT_EQ(m.data, (std::vector<float>{0.5f, -1.25f}));
}

TEST(Npy, RefusesBrokenFiles) {
  const auto four = raw(std::vector<float>{1, 2, 3, 4});
  const std::string good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }";
  auto refused = [&](const std::string& name, const Bytes& b, std::initializer_list<std::string> parts) {
    const std::string path = temp_path(name);
    write_file(path, b.span());
    expect_input_error([&] { bitlab::read_npy_matrix(path, 2, 2); }, parts);
  };
  refused("magic.npy", npy_bytes(good, four, "\x93NUMPX"), {"magic.npy", "magic"});
  refused("fortran.npy", npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", four),
          {"fortran_order"});
  refused("descr.npy", npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (2, 2), }", four), {"'>f4'"});
  refused("int.npy", npy_bytes("{'descr': '<i4', 'fortran_order': False, 'shape': (2, 2), }", four), {"'<i4'"});
  refused("shape.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 1), }", four),
          {"shape (4, 1)", "(2, 2)"});
  refused("rank.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", four), {"shape (4)"});
  refused("truncated.npy", npy_bytes(good, std::vector<uint8_t>(four.begin(), four.end() - 1)), {"truncated"});
  refused("trailing.npy", npy_bytes(good, [&] { auto v = four; v.push_back(0); return v; }()), {"trailing"});
  refused("nokey.npy", npy_bytes("{'descr': '<f4', 'shape': (2, 2), }", four), {"fortran_order"});
  refused("junk.npy", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), } x", four),
          {"after the dict"});
  // A header length past the end of the file.
  Bytes past;
  past.raw("\x93NUMPY").put(uint8_t(1)).put(uint8_t(0)).put(uint16_t(4000)).raw("{'descr'");
  refused("past.npy", past, {"past the end"});
  Bytes tiny;
  tiny.raw("\x93NU");
  refused("short.npy", tiny, {"too short"});
}

// ---- id lists ----

TEST(Ids, SpacesCommasAndNewlinesSeparate) {
  EXPECT_EQ(cli::parse_ids("1,2 3\n4\r\n5\t6,\n", "x", 10, cli::IdsSource::File),
            (std::vector<int32_t>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(cli::parse_ids("0 9", "x", 10, cli::IdsSource::Option), (std::vector<int32_t>{0, 9}));
}

TEST(Ids, BadItemsNameTheirPlace) {
  using S = cli::IdsSource;
  expect_input_error([] { cli::parse_ids("1 2\n3 x4", "ids file 'f'", 10, S::File); },
                     {"ids file 'f'", "id 4 (line 2)", "not a decimal integer", "x4"});
  expect_input_error([] { cli::parse_ids("1 -3", "f", 10, S::File); }, {"id 2", "negative"});
  expect_input_error([] { cli::parse_ids("1 +3", "f", 10, S::File); }, {"id 2", "not a decimal integer"});
  expect_input_error([] { cli::parse_ids("1 0x3", "f", 10, S::File); }, {"id 2", "not a decimal integer"});
  expect_input_error([] { cli::parse_ids("99999999999999999999999", "f", 10, S::File); }, {"id 1", "outside"});
  expect_input_error([] { cli::parse_ids("3 10", "f", 10, S::File); }, {"id 2", "10", "outside the 10 tokens"});
  expect_input_error([] { cli::parse_ids(" ,\n", "f", 10, S::File); }, {"f", "no token ids"});
  expect_input_error([] { cli::parse_ids("", "f", 10, S::File); }, {"no token ids"});
  // On the command line the same slips are bad usage.
  EXPECT_THROW(cli::parse_ids("1 x", "--prompt-ids", 10, S::Option), UsageError);
  EXPECT_THROW(cli::parse_ids("11", "--prompt-ids", 10, S::Option), UsageError);
  EXPECT_THROW(cli::parse_ids("", "--prompt-ids", 10, S::Option), UsageError);
}

TEST(Ids, FilesAreReadThroughTheGuardedReader) {
  const std::string path = temp_path("ids.txt");
  write_text(path, "5\n6\n7\n");
  EXPECT_EQ(cli::read_ids_file(path, 10), (std::vector<int32_t>{5, 6, 7}));
  EXPECT_THROW(cli::read_ids_file(temp_path("missing.txt"), 10), UsageError);
  EXPECT_THROW(cli::read_ids_file(::testing::TempDir(), 10), UsageError);  // a directory
}

// ---- through the binary ----

// The ids printed after `label` on the line that holds it.
std::vector<int32_t> ids_after(const std::string& text, const std::string& label) {
  const std::string line = line_with(text, label);
  std::istringstream in(line.substr(line.find(':') + 1));
  std::vector<int32_t> ids;
  for (int32_t v = 0; in >> v;) ids.push_back(v);
  return ids;
}

std::string joined(const std::vector<int32_t>& ids, const char* sep) {
  std::string s;
  for (int32_t id : ids) s += (s.empty() ? "" : sep) + std::to_string(id);
  return s;
}

struct ScoreRow {
  int64_t position = 0;
  int32_t next = -1, top1 = -1;
  double logprob = 0;
};

std::vector<ScoreRow> score_rows(const std::string& out) {
  std::vector<ScoreRow> rows;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    std::istringstream f(line);
    ScoreRow r;
    std::string next, lp;
    if (!(f >> r.position >> next >> r.top1 >> lp)) continue;  // the header and the summary
    r.next = next == "-" ? -1 : std::stoi(next);
    r.logprob = lp == "-" ? 0 : std::stod(lp);
    rows.push_back(r);
  }
  return rows;
}

const std::vector<int32_t> kIds = {1, 17, 300, 42, 42, 5, 511, 0, 99, 256};

TEST(IdsCli, RunWithPromptIdsMatchesTheSeededPrompt) {
  const auto seeded = run_bitlab("run --model synthetic:tiny --backend reference --prompt-len 9 --gen 5");
  ASSERT_EQ(seeded.code, 0) << seeded.err;
  const std::vector<int32_t> prompt = ids_after(seeded.out, "prompt    ");
  const std::vector<int32_t> generated = ids_after(seeded.out, "generated ");
  ASSERT_EQ(prompt.size(), 9u) << seeded.out;
  ASSERT_EQ(generated.size(), 5u) << seeded.out;

  const auto given = run_bitlab("run --model synthetic:tiny --backend reference --gen 5 --prompt-ids " +
                                joined(prompt, ","));
  ASSERT_EQ(given.code, 0) << given.err;
  EXPECT_EQ(ids_after(given.out, "prompt    "), prompt);
  EXPECT_EQ(ids_after(given.out, "generated "), generated);

  const std::string file = temp_path("run-ids.txt");
  write_text(file, joined(prompt, "\n") + "\n");
  const auto from_file =
      run_bitlab("run --model synthetic:tiny --backend reference --gen 5 --prompt-ids-file " + file);
  ASSERT_EQ(from_file.code, 0) << from_file.err;
  EXPECT_EQ(ids_after(from_file.out, "generated "), generated);
}

TEST(IdsCli, PromptIdsMistakesAreOneLineErrors) {
  auto one_line = [](const bitlab::test::CmdResult& r) {
    return std::count(r.err.begin(), r.err.end(), '\n') == 1 && r.err.rfind("bitlab: ", 0) == 0;
  };
  auto r = run_bitlab("run --model synthetic:tiny --prompt-ids 1,2 --prompt-len 4");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_TRUE(one_line(r)) << r.err;
  r = run_bitlab("run --model synthetic:tiny --prompt-ids 1,x,3");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("--prompt-ids: id 2"), std::string::npos) << r.err;
  EXPECT_TRUE(one_line(r)) << r.err;
  r = run_bitlab("run --model synthetic:tiny --prompt-ids 1,512");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("outside the 512 tokens"), std::string::npos) << r.err;
  const std::string bad = temp_path("bad-ids.txt");
  write_text(bad, "1 2\n3 -4\n");
  r = run_bitlab("run --model synthetic:tiny --prompt-ids-file " + bad);
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("id 4 (line 2) is negative"), std::string::npos) << r.err;
  EXPECT_TRUE(one_line(r)) << r.err;
  r = run_bitlab("run --model synthetic:tiny --prompt-ids-file " + temp_path("nothing-here.txt"));
  EXPECT_EQ(r.code, 2) << r.err;
  r = run_bitlab("run --model synthetic:tiny --gen 250 --prompt-ids 1,2,3,4,5,6,7");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("256 positions"), std::string::npos) << r.err;
  r = run_bitlab("generate --model synthetic:tiny --prompt hi --prompt-ids 1,2");
  EXPECT_EQ(r.code, 2) << r.err;
  r = run_bitlab("generate --model synthetic:tiny");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("--prompt-ids"), std::string::npos) << r.err;
}

// Writes kIds to a file and scores them on the reference with --logits-out.
struct Scored {
  std::string ids_file, npy;
  bitlab::test::CmdResult result;
};
Scored score_reference(const std::string& stem, const std::vector<int32_t>& ids = kIds) {
  Scored s{temp_path(stem + "-ids.txt"), temp_path(stem + ".npy"), {}};
  write_text(s.ids_file, joined(ids, " "));
  s.result = run_bitlab("score --model synthetic:tiny --backend reference --ids-file " + s.ids_file +
                        " --logits-out " + s.npy);
  return s;
}

TEST(IdsCli, ScorePrintsWhatItsLogitsFileHolds) {
  const Scored s = score_reference("score");
  ASSERT_EQ(s.result.code, 0) << s.result.err;
  const std::vector<ScoreRow> rows = score_rows(s.result.out);
  ASSERT_EQ(rows.size(), kIds.size()) << s.result.out;
  const int64_t vocab = 512;
  const bitlab::NpyMatrix m = bitlab::read_npy_matrix(s.npy, int64_t(kIds.size()), vocab);
  double nll = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const float* row = m.data.data() + i * vocab;
    EXPECT_EQ(rows[i].position, int64_t(i));
    EXPECT_EQ(rows[i].top1, std::max_element(row, row + vocab) - row) << "position " << i;
    if (i + 1 == rows.size()) {
      EXPECT_EQ(rows[i].next, -1);
      continue;
    }
    EXPECT_EQ(rows[i].next, kIds[i + 1]);
    double mx = *std::max_element(row, row + vocab), z = 0;
    for (int64_t v = 0; v < vocab; ++v) z += std::exp(double(row[v]) - mx);
    const double lp = double(row[kIds[i + 1]]) - mx - std::log(z);
    EXPECT_NEAR(rows[i].logprob, lp, 1e-5) << "position " << i;
    nll -= lp;
  }
  const std::string ppl = line_with(s.result.out, "perplexity ");
  ASSERT_FALSE(ppl.empty()) << s.result.out;
  EXPECT_NEAR(std::stod(ppl.substr(11)), std::exp(nll / double(kIds.size() - 1)), 1e-3);
}

TEST(IdsCli, ScoresGreedyNextIdIsRunsFirstToken) {
  const Scored s = score_reference("greedy");
  ASSERT_EQ(s.result.code, 0) << s.result.err;
  const std::vector<ScoreRow> rows = score_rows(s.result.out);
  ASSERT_EQ(rows.size(), kIds.size());
  const auto r = run_bitlab("run --model synthetic:tiny --backend reference --gen 1 --prompt-ids-file " + s.ids_file);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ids_after(r.out, "generated "), std::vector<int32_t>{rows.back().top1});
}

nlohmann::json correctness_record(const std::string& path) {
  const auto doc = nlohmann::json::parse(slurp(path));
  EXPECT_EQ(doc["correctness"].size(), 1u);
  return doc["correctness"].at(0);
}

TEST(IdsCli, CheckAgainstTheOraclesOwnLogitsPasses) {
  const Scored s = score_reference("own");
  ASSERT_EQ(s.result.code, 0) << s.result.err;
  const std::string out = temp_path("own.json");
  const auto r = run_bitlab("check --model synthetic:tiny --against " + s.npy + " --ids-file " + s.ids_file +
                            " --out " + out);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(line_with(r.out, "against/tiny/tokens:10").find("pass"), std::string::npos) << r.out;
  const auto rec = correctness_record(out);
  EXPECT_EQ(rec["check"], "against/tiny/tokens:10");
  EXPECT_EQ(rec["variant"], "npy");
  EXPECT_EQ(rec["nmse"].get<double>(), 0.0);
  EXPECT_EQ(rec["max_abs_diff"].get<double>(), 0.0);
  EXPECT_EQ(rec["top1_agreement"].get<double>(), 1.0);
  EXPECT_TRUE(rec["pass"].get<bool>());
  // Judged by the end-to-end rule: the oracle's noise floor over these ids is
  // measured, recorded, and sets the thresholds (never below the absolute ones).
  ASSERT_TRUE(rec.contains("floor_nmse")) << rec.dump();
  EXPECT_GE(rec["floor_nmse"].get<double>(), 0.0);
  EXPECT_GE(rec["threshold"].get<double>(), std::max(1e-8, 10.0 * rec["floor_nmse"].get<double>()) * (1 - 1e-12));
  EXPECT_NE(r.out.find("floor"), std::string::npos) << r.out;
  bitlab::test::expect_valid_result(out);
}

TEST(IdsCli, CheckAgainstAPerturbedFileReportsTheMismatch) {
  const Scored s = score_reference("perturbed");
  ASSERT_EQ(s.result.code, 0) << s.result.err;
  bitlab::NpyMatrix m = bitlab::read_npy_matrix(s.npy, int64_t(kIds.size()), 512);
  // Another token wins at position 3, by a wide margin.
  float* row = m.data.data() + 3 * 512;
  const auto top = std::max_element(row, row + 512) - row;
  row[(top + 1) % 512] = row[top] + 5.0f;
  const std::string bad = temp_path("perturbed-bad.npy");
  bitlab::write_npy_f32(bad, m.data, m.rows, m.cols);
  const std::string out = temp_path("perturbed.json");
  const auto r =
      run_bitlab("check --model synthetic:tiny --against " + bad + " --ids-file " + s.ids_file + " --out " + out);
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_NE(line_with(r.out, "against/tiny").find("FAIL"), std::string::npos) << r.out;
  const auto rec = correctness_record(out);
  EXPECT_FALSE(rec["pass"].get<bool>());
  EXPECT_NEAR(rec["top1_agreement"].get<double>(), 0.9, 1e-12);
  EXPECT_GT(rec["nmse"].get<double>(), 0.0);
  EXPECT_GE(rec["max_abs_diff"].get<double>(), 5.0 - 1e-4);  // the new winner rose by at least 5
}

TEST(IdsCli, CheckAgainstRefusesFilesThatDoNotFit) {
  const Scored s = score_reference("misfit");
  ASSERT_EQ(s.result.code, 0) << s.result.err;
  // One id fewer than the file has rows.
  const std::string fewer = temp_path("misfit-fewer.txt");
  write_text(fewer, joined(std::vector<int32_t>(kIds.begin(), kIds.end() - 1), " "));
  auto r = run_bitlab("check --model synthetic:tiny --against " + s.npy + " --ids-file " + fewer);
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("does not match the expected (9, 512)"), std::string::npos) << r.err;
  const std::string junk = temp_path("misfit-junk.bin");
  write_text(junk, "not logits at all");
  r = run_bitlab("check --model synthetic:tiny --against " + junk + " --ids-file " + s.ids_file);
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("neither a .npy file nor a llama-perplexity logits file"), std::string::npos) << r.err;
  r = run_bitlab("check --model synthetic:tiny --against " + s.npy);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("needs --ids-file"), std::string::npos) << r.err;
  r = run_bitlab("check --model synthetic:tiny --against " + s.npy + " --ids-file " + s.ids_file +
                 " --backends reference");
  EXPECT_EQ(r.code, 2) << r.err;
}

// The file `llama-perplexity --kl-divergence-base` writes, built here the way
// its source does from the oracle's own logits of each chunk (rows first..n_ctx-2
// of chunk after chunk, each as a scale, a minimum and uint16 log-probabilities).
Bytes llama_logits_file(const std::vector<std::vector<int32_t>>& chunks, const std::vector<std::string>& npys) {
  const int32_t n_ctx = int32_t(chunks.at(0).size()), n_vocab = 512, first = n_ctx / 2;
  Bytes b;
  b.raw("_logits_").put(n_ctx).put(n_vocab).put(int32_t(chunks.size()));
  for (const auto& chunk : chunks)
    for (int32_t id : chunk) b.put(id);
  for (const std::string& npy : npys) {
    const bitlab::NpyMatrix m = bitlab::read_npy_matrix(npy, n_ctx, n_vocab);
    for (int32_t j = first; j < n_ctx - 1; ++j) {
      const float* l = m.data.data() + size_t(j) * n_vocab;
      const float mx = *std::max_element(l, l + n_vocab);
      const float lo = std::max(*std::min_element(l, l + n_vocab), mx - 16);
      double z = 0;
      for (int32_t i = 0; i < n_vocab; ++i) z += std::exp(l[i] - mx);
      const float scale = (mx - lo) / 65535.f;
      b.put(scale).put(float(lo - mx - float(std::log(z))));
      for (int32_t i = 0; i < n_vocab; ++i) b.put(uint16_t(l[i] > lo ? std::lround((l[i] - lo) / scale) : 0));
    }
  }
  return b;
}

// One chunk of kIds: the check must read it back as agreeing.
TEST(IdsCli, CheckAgainstALlamaPerplexityLogitsFile) {
  const Scored s = score_reference("llama");
  ASSERT_EQ(s.result.code, 0) << s.result.err;
  const Bytes b = llama_logits_file({kIds}, {s.npy});
  const std::string path = temp_path("llama.kld");
  write_file(path, b.span());
  const std::string out = temp_path("llama.json");
  auto r = run_bitlab("check --model synthetic:tiny --against " + path + " --out " + out);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const auto rec = correctness_record(out);
  EXPECT_EQ(rec["variant"], "llama-perplexity");
  EXPECT_EQ(rec["check"], "against/tiny/tokens:4");  // positions 5..8 of the 10
  EXPECT_EQ(rec["top1_agreement"].get<double>(), 1.0);
  EXPECT_LT(rec["max_abs_diff"].get<double>(), 1e-3);  // the uint16 quantisation
  // A file cut short is refused before anything is read from its sizes.
  Bytes cut = b;
  cut.b.resize(cut.b.size() - 3);
  write_file(path, cut.span());
  r = run_bitlab("check --model synthetic:tiny --against " + path);
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("(truncated)"), std::string::npos) << r.err;
}

// Two different chunks: each chunk's rows are compared with the oracle over
// that chunk, in file order; the same two chunks in the other order with the
// rows left as they were must fail.
TEST(IdsCli, CheckAgainstALlamaPerplexityFileOfTwoChunks) {
  const std::vector<int32_t> other = {1, 300, 17, 42, 5, 42, 0, 511, 256, 99};
  const Scored s1 = score_reference("llama2-a");
  const Scored s2 = score_reference("llama2-b", other);
  ASSERT_EQ(s1.result.code, 0) << s1.result.err;
  ASSERT_EQ(s2.result.code, 0) << s2.result.err;
  const std::string path = temp_path("llama2.kld");
  write_file(path, llama_logits_file({kIds, other}, {s1.npy, s2.npy}).span());
  const std::string out = temp_path("llama2.json");
  auto r = run_bitlab("check --model synthetic:tiny --against " + path + " --out " + out);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const auto rec = correctness_record(out);
  EXPECT_EQ(rec["check"], "against/tiny/tokens:8");  // positions 5..8 of each chunk
  EXPECT_EQ(rec["top1_agreement"].get<double>(), 1.0);
  EXPECT_LT(rec["max_abs_diff"].get<double>(), 1e-3);
  write_file(path, llama_logits_file({other, kIds}, {s1.npy, s2.npy}).span());
  r = run_bitlab("check --model synthetic:tiny --against " + path);
  EXPECT_EQ(r.code, 1) << r.out << r.err;
}

}  // namespace
