// The Llama-3 tokenizer: the pre-tokenizer split by hand, and on the real
// vocabulary every test case llama.cpp ships for it, round trips over ASCII,
// multi-byte UTF-8 and special tokens, and the 2B4T chat template.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "model/tokenizer.h"
#include "model/weights/gguf.h"
#include "model/weights/gguf_writer.h"
#include "tests/io_test_util.h"
#include "tests/paths.h"

namespace bitlab {
namespace {

std::vector<std::string> split(std::string_view text) {
  std::vector<std::string> out;
  for (std::string_view p : pretokenize_llama3(text)) out.emplace_back(p);
  return out;
}

using V = std::vector<std::string>;

TEST(Pretokenize, PatternClassesByHand) {
  EXPECT_EQ(split(""), V{});
  EXPECT_EQ(split("Hello world"), (V{"Hello", " world"}));
  // Contractions, any case; a lone apostrophe joins what follows as punctuation.
  EXPECT_EQ(split("I've he's 'RE 'lL"), (V{"I", "'ve", " he", "'s", " '", "RE", " '", "lL"}));
  // Numbers in groups of at most three digits, never with a leading space.
  EXPECT_EQ(split("1234567 x"), (V{"123", "456", "7", " x"}));
  EXPECT_EQ(split(" 42"), (V{" ", "42"}));
  // One non-letter, non-number, non-newline character may lead a word.
  EXPECT_EQ(split("(normal) $x"), (V{"(normal", ")", " $", "x"}));
  // Punctuation runs take an optional leading space and trailing newlines.
  EXPECT_EQ(split("a ...!!\n\nb"), (V{"a", " ...!!\n\n", "b"}));
  // Whitespace: up to the last newline; otherwise all but the last space,
  // which joins the next word; all of it at the end of the text.
  EXPECT_EQ(split("a \n \n  b"), (V{"a", " \n \n", " ", " b"}));
  EXPECT_EQ(split("a   b"), (V{"a", "  ", " b"}));
  EXPECT_EQ(split("a   "), (V{"a", "   "}));
  EXPECT_EQ(split("\t\n"), (V{"\t\n"}));
  // Unicode letters and numbers: Cyrillic, CJK, '½' (No) and '٣' (Nd).
  EXPECT_EQ(split("нещо 我想 ½٣"), (V{"нещо", " 我想", " ", "½٣"}));
  // Invalid UTF-8 bytes are symbols of their own class (punctuation-like).
  EXPECT_EQ(split("a\xff\xfe b"), (V{"a", "\xff\xfe", " b"}));
  // The pieces always concatenate back to the text.
  const std::string mixed = "x\r\n\r\n  y'S  ,\xc3\x28 9999 \xe2\x80\xa8z";
  std::string joined;
  for (const auto& p : split(mixed)) joined += p;
  EXPECT_EQ(joined, mixed);
}

TEST(ByteLevelAlphabet, Gpt2SymbolsByHand) {
  // Printable bytes stand for themselves; the other 68, in byte order, for
  // U+0100 onwards: 0..32 for U+0100..U+0120, 127..160 next, 173 last (U+0143).
  EXPECT_EQ(byte_level_symbol('a'), "a");
  EXPECT_EQ(byte_level_symbol('!'), "!");
  EXPECT_EQ(byte_level_symbol(0xa1), "\xc2\xa1");  // U+00A1, itself
  EXPECT_EQ(byte_level_symbol(0), "\xc4\x80");     // U+0100
  EXPECT_EQ(byte_level_symbol('\n'), "\xc4\x8a");  // U+010A
  EXPECT_EQ(byte_level_symbol(' '), "\xc4\xa0");   // U+0120
  EXPECT_EQ(byte_level_symbol(0x7f), "\xc4\xa1");  // U+0121
  EXPECT_EQ(byte_level_symbol(0xad), "\xc5\x83");  // U+0143
  std::set<std::string> all;
  for (int b = 0; b < 256; ++b) all.insert(byte_level_symbol(uint8_t(b)));
  EXPECT_EQ(all.size(), 256u);
}

class Llama3Vocab : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir = test::llama3_vocab_dir();
    if (dir.empty()) return;
    tok_ = new Tokenizer(Tokenizer::from_gguf(open_gguf(dir + "/ggml-vocab-llama-bpe.gguf")));
  }
  static void TearDownTestSuite() {
    delete tok_;
    tok_ = nullptr;
  }
  void SetUp() override {
    if (tok_ == nullptr)
      GTEST_SKIP() << "the Llama-3 vocabulary is absent: expected ../shared/data/llama3-vocab/ beside the source "
                      "tree (" BITLAB_SOURCE_DIR ")";
  }
  static Tokenizer* tok_;
};
Tokenizer* Llama3Vocab::tok_ = nullptr;

TEST_F(Llama3Vocab, EveryCaseOfTheReferenceTestFile) {
  const std::string dir = test::llama3_vocab_dir();
  // Inputs are separated by "\n__ggml_vocab_test__\n" (the file ends with one);
  // the expected ids are one line per input, space-separated, without BOS.
  const std::string inp = test::slurp(dir + "/ggml-vocab-llama-bpe.gguf.inp");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  for (size_t at = 0;;) {
    const size_t next = inp.find(sep, at);
    if (next == std::string::npos) break;
    texts.push_back(inp.substr(at, next - at));
    at = next + sep.size();
  }
  std::ifstream out(dir + "/ggml-vocab-llama-bpe.gguf.out");
  std::vector<std::vector<int32_t>> expected;
  for (std::string line; std::getline(out, line);) {
    std::istringstream ls(line);
    std::vector<int32_t> ids;
    for (int32_t id; ls >> id;) ids.push_back(id);
    expected.push_back(ids);
  }
  ASSERT_EQ(texts.size(), 46u);
  ASSERT_EQ(expected.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    EXPECT_EQ(tok_->encode(texts[i], false, false), expected[i]) << "case " << i << ": '" << texts[i] << "'";
    EXPECT_EQ(tok_->decode(expected[i]), texts[i]) << "case " << i;
  }
}

TEST_F(Llama3Vocab, RoundTripsAsciiUtf8AndSpecialTokens) {
  const std::string ascii = "The quick brown fox: 3.14159 * 2 = 6.28318; it's   done!\n\tEnd.";
  EXPECT_EQ(tok_->decode(tok_->encode(ascii)), ascii);
  const std::string utf8 = "Grüße, Ærøskøbing — 東京タワー 🦙🦙 ½ ٣ مرحبا \u2028 नमस्ते";
  EXPECT_EQ(tok_->decode(tok_->encode(utf8)), utf8);
  const std::string bytes("\x00\x01\xff\xfe\x80 ok", 8);  // not UTF-8: byte tokens carry it through
  EXPECT_EQ(tok_->decode(tok_->encode(bytes)), bytes);

  const std::string chat = "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>";
  const std::vector<int32_t> ids = tok_->encode(chat);
  ASSERT_GE(ids.size(), 5u);
  EXPECT_EQ(ids.front(), 128006);  // <|start_header_id|>
  EXPECT_EQ(ids.back(), 128009);   // <|eot_id|>
  EXPECT_TRUE(tok_->is_special(128009));
  EXPECT_EQ(tok_->decode(ids), chat);
  // Without special parsing the same text is ordinary characters.
  const std::vector<int32_t> plain = tok_->encode(chat, false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 128009), 0);
  EXPECT_EQ(tok_->decode(plain), chat);

  EXPECT_EQ(tok_->bos(), 128000);
  EXPECT_EQ(tok_->eos(), 128001);
  EXPECT_EQ(tok_->encode("Hello", true), (std::vector<int32_t>{128000, 9906}));
  EXPECT_THROW(tok_->decode(std::vector<int32_t>{128256}), UsageError);
  EXPECT_THROW(tok_->decode(std::vector<int32_t>{-1}), UsageError);
}

TEST_F(Llama3Vocab, ChatTemplateOfTheRelease) {
  const std::vector<int32_t> ids = chat_prompt(*tok_, "", "  How are you?\n");
  std::vector<int32_t> want = {128000};
  for (int32_t id : tok_->encode("User: How are you?", false, false)) want.push_back(id);
  want.push_back(128009);
  for (int32_t id : tok_->encode("Assistant: ", false, false)) want.push_back(id);
  EXPECT_EQ(ids, want);
  EXPECT_EQ(tok_->decode(ids), "<|begin_of_text|>User: How are you?<|eot_id|>Assistant: ");
  EXPECT_EQ(tok_->decode(chat_prompt(*tok_, "Be brief.", "Hi")),
            "<|begin_of_text|>System: Be brief.<|eot_id|>User: Hi<|eot_id|>Assistant: ");
}

// A vocabulary file: the 256 byte symbols, then `extra` tokens, all of the
// token type `type` (1 normal, 3 control); bos/eos written as i64 by `ids`.
using test::expect_input_error;

std::string vocab_file(const std::string& name, const std::vector<std::string>& extra, int32_t type,
                       int64_t bos = 0, int64_t eos = 1) {
  std::vector<std::string> tokens;
  for (unsigned b = 0; b < 256; ++b) tokens.push_back(byte_level_symbol(uint8_t(b)));
  tokens.insert(tokens.end(), extra.begin(), extra.end());
  GgufWriter w;
  w.add_string("general.architecture", "llama");
  w.add_string("tokenizer.ggml.model", "gpt2");
  w.add_i32_array("tokenizer.ggml.token_type", std::vector<int32_t>(tokens.size(), type));
  w.add_string_array("tokenizer.ggml.tokens", std::move(tokens));
  w.add_string_array("tokenizer.ggml.merges", {});
  GgufValue v;
  v.type = GgufType::I64;
  v.i = bos;
  v.u = uint64_t(bos);
  w.add_value("tokenizer.ggml.bos_token_id", v);
  v.i = eos;
  v.u = uint64_t(eos);
  w.add_value("tokenizer.ggml.eos_token_id", v);
  const std::string path = test::temp_path(name);
  w.write(path);
  return path;
}

TEST(Tokenizer, BosAndEosAreRangeCheckedBeforeNarrowing) {
  // 2^32 + 1 would be token 1 once cut to 32 bits.
  const std::string bad = vocab_file("bos64.gguf", {}, 1, (int64_t(1) << 32) + 1);
  expect_input_error([&] { Tokenizer::from_gguf(open_gguf(bad)); },
                     {"bos64.gguf", "tokenizer.ggml.bos_token_id 4294967297 is outside the 256 tokens"});
  const std::string neg = vocab_file("eos64.gguf", {}, 1, 0, -(int64_t(1) << 32));
  expect_input_error([&] { Tokenizer::from_gguf(open_gguf(neg)); }, {"eos_token_id -4294967296"});
  const Tokenizer ok = Tokenizer::from_gguf(open_gguf(vocab_file("ok.gguf", {}, 1, 5, -1)));
  EXPECT_EQ(ok.bos(), 5);
  EXPECT_EQ(ok.eos(), -1);
}

TEST(Tokenizer, SpecialTokensMatchLeftmostLongest) {
  SpecialTokenMatcher m;
  m.add("ab", 1);
  m.add("abc", 2);
  m.add("b", 3);
  m.add("ab", 4);  // a duplicate keeps the first id
  size_t len = 0;
  EXPECT_EQ(m.longest_at("xabcd", 1, &len), 2);
  EXPECT_EQ(len, 3u);
  EXPECT_EQ(m.longest_at("xabd", 1, &len), 1);
  EXPECT_EQ(len, 2u);
  EXPECT_EQ(m.longest_at("xabd", 0, &len), -1);
  EXPECT_EQ(m.longest_at("ab", 2, &len), -1);
  const Tokenizer tok = Tokenizer::from_gguf(open_gguf(vocab_file("lml.gguf", {"<x>", "<x><y>", "<y>"}, 3)));
  const int32_t x = tok.find("<x>"), xy = tok.find("<x><y>"), y = tok.find("<y>");
  const std::vector<int32_t> ids = tok.encode("<x><y><x>a<y>", false, true);
  EXPECT_EQ(ids, (std::vector<int32_t>{xy, x, tok.find("a"), y}));
}

TEST(Tokenizer, EncodingWithEveryTokenSpecialIsLinear) {
  // Every token a control token (the byte symbols included): each position of
  // the text used to be compared with every special token in turn, ~0.4 ms a
  // byte with a real vocabulary's size. The search now walks a trie: the work
  // per byte is bounded by the longest special token, not their number.
  std::vector<std::string> extra;
  size_t longest = 1;
  for (int i = 0; i < 60000; ++i) {
    std::string t = "w" + std::to_string(i * 7919 % 100000) + (i % 3 ? "ing" : "");
    longest = std::max(longest, t.size());
    extra.push_back(std::move(t));
  }
  const Tokenizer tok = Tokenizer::from_gguf(open_gguf(vocab_file("allctl.gguf", extra, 3)));
  std::string text;
  while (text.size() < (128u << 10)) text += "w12345ing w99 wing, w7x \xc3\xa9 1234 ";
  uint64_t steps = 0;
  const std::vector<int32_t> ids = tok.encode_counting(text, false, true, &steps);
  EXPECT_TRUE(!ids.empty() && ids.size() <= text.size());
  EXPECT_GT(steps, text.size() / 2);                // the search did run
  EXPECT_LE(steps, text.size() * (longest + 1));    // and never scanned the 60256 specials
}

}  // namespace
}  // namespace bitlab
