// The checkpoint and text commands through the `bitlab` binary: export then
// run/check from the file (same tokens as from memory), tokenize/detokenize,
// generate, and bad files (one line on stderr, exit 1; a missing file exits 2).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "model/weights/gguf_model.h"
#include "model/weights/synthetic.h"
#include "tests/io_test_util.h"
#include "tests/cli_test_util.h"

namespace bitlab {
namespace {

using Result = test::CmdResult;
using test::run_bitlab;

std::string line_of(const std::string& out, const std::string& start) {
  const size_t at = out.find(start);
  return at == std::string::npos ? std::string() : out.substr(at, out.find('\n', at) - at);
}

const char* const kRun = "run --backend scalar --prompt-len 5 --gen 6 --threads 1 --model ";

TEST(CliIo, ExportedFilesRunTheSameTokensAsTheSyntheticModel) {
  const Result mem = run_bitlab(std::string(kRun) + "synthetic:tiny");
  ASSERT_EQ(mem.code, 0) << mem.err;
  const std::string want = line_of(mem.out, "generated");
  ASSERT_FALSE(want.empty());

  const std::string gguf = test::temp_path("tiny.gguf");
  const Result eg = run_bitlab("export --model synthetic:tiny --format gguf-i2s " + gguf);
  ASSERT_EQ(eg.code, 0) << eg.err;
  EXPECT_NE(eg.out.find("wrote"), std::string::npos);
  const Result rg = run_bitlab(std::string(kRun) + gguf);
  ASSERT_EQ(rg.code, 0) << rg.err;
  EXPECT_EQ(line_of(rg.out, "generated"), want);

  const std::string dir = test::temp_path("tiny_hf");
  const Result es = run_bitlab("export --model synthetic:tiny --format safetensors " + dir);
  ASSERT_EQ(es.code, 0) << es.err;
  const Result rs = run_bitlab(std::string(kRun) + dir);
  ASSERT_EQ(rs.code, 0) << rs.err;
  EXPECT_EQ(line_of(rs.out, "generated"), want);
  const Result rf = run_bitlab(std::string(kRun) + dir + "/model.safetensors");
  ASSERT_EQ(rf.code, 0) << rf.err;
  EXPECT_EQ(line_of(rf.out, "generated"), want);

  const Result chk = run_bitlab("check --backends scalar --tokens 4 --threads 1 --model " + gguf + " --out " +
                                test::temp_path("check.json"));
  EXPECT_EQ(chk.code, 0) << chk.out << chk.err;
}

TEST(CliIo, BadFilesAreOneLineErrors) {
  const std::string junk = test::temp_path("junk.gguf");
  std::ofstream(junk) << "GGUF\x03\x00\x00\x00 this is not a header";
  const Result r = run_bitlab(std::string(kRun) + junk);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("junk.gguf"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  const Result missing = run_bitlab(std::string(kRun) + "/nonexistent/model.gguf");
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("/nonexistent/model.gguf"), std::string::npos) << missing.err;
  const Result fmt = run_bitlab("export --model synthetic:tiny --format onnx " + test::temp_path("x"));
  EXPECT_EQ(fmt.code, 2);
  EXPECT_NE(fmt.err.find("onnx"), std::string::npos);
}

TEST(CliIo, TokenizeAndDetokenize) {
  BITLAB_NEED_VOCAB(dir);
  const std::string v = dir + "/ggml-vocab-llama-bpe.gguf";
  const Result t = run_bitlab("tokenize --model " + v + " 'Hello, world!'");
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_EQ(t.out, "9906 11 1917 0\n");
  const Result tb = run_bitlab("tokenize --bos --model " + v + " ' Hello world'");
  EXPECT_EQ(tb.out, "128000 22691 1917\n");
  const Result d = run_bitlab("detokenize --model " + v + " 128000 9906 11 1917 0");
  ASSERT_EQ(d.code, 0) << d.err;
  EXPECT_EQ(d.out, "<|begin_of_text|>Hello, world!\n");
  const Result bad = run_bitlab("detokenize --model " + v + " 999999");
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.err.find("999999"), std::string::npos);
}

TEST(CliIo, GenerateStreamsTextAndReportsSpeed) {
  BITLAB_NEED_VOCAB(dir);
  // A narrow one-layer model with the real vocabulary size, carrying the real
  // tokenizer in its GGUF metadata.
  ModelConfig c = tiny_config();
  c.name = "narrow-llama3-vocab";
  c.n_layers = 1;
  c.vocab = 128256;
  c.bos = 128000;
  c.eos = 128001;
  const std::string path = test::temp_path("narrow.gguf");
  const GgufFile vocab = open_gguf(dir + "/ggml-vocab-llama-bpe.gguf");
  export_gguf_i2s(synthetic_weights(c, 5), path, &vocab);

  const Result g = run_bitlab("generate --threads 1 --max-tokens 5 --model " + path + " --prompt 'Hello there'");
  ASSERT_EQ(g.code, 0) << g.err;
  EXPECT_EQ(g.out.rfind("Hello there", 0), 0u) << g.out;
  EXPECT_NE(g.out.find("tokens/s"), std::string::npos) << g.out;
  const Result again = run_bitlab("generate --threads 2 --max-tokens 5 --model " + path + " --prompt 'Hello there'");
  EXPECT_EQ(again.out.substr(0, again.out.find("\n\n[")), g.out.substr(0, g.out.find("\n\n[")));  // greedy: same text
  const Result chat = run_bitlab("generate --chat --threads 1 --max-tokens 3 --model " + path + " --prompt Hi");
  ASSERT_EQ(chat.code, 0) << chat.err;
  EXPECT_NE(chat.out.find("prompt tokens"), std::string::npos);
  const Result none = run_bitlab("generate --model synthetic:tiny --prompt Hi");
  EXPECT_EQ(none.code, 2);
  EXPECT_NE(none.err.find("--vocab"), std::string::npos) << none.err;
}

}  // namespace
}  // namespace bitlab
