#include "model/tokenizer.h"

#include <algorithm>
#include <new>
#include <queue>

#include <fmt/format.h>

#include "model/error.h"
#include "model/weights/gguf.h"

namespace bitlab {

namespace {

// GGUF token types (llama.cpp's llama_token_type).
constexpr int64_t kControl = 3, kUserDefined = 4;

// GPT-2's byte-level alphabet: printable bytes stand for themselves, the other
// 68 (controls, space, DEL, NBSP, soft hyphen, ...) for U+0100 onwards in order.
struct ByteAlphabet {
  uint32_t cp_of[256];
  ByteAlphabet() {
    uint32_t extra = 256;
    for (uint32_t b = 0; b < 256; ++b) {
      const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
      cp_of[b] = printable ? b : extra++;
    }
  }
  // Code point -> byte, or -1 when the code point is not in the alphabet.
  int byte_of(uint32_t cp) const {
    if (cp < 256 && cp_of[cp] == cp) return int(cp);
    if (cp >= 256 && cp < 256 + 68)
      for (int b = 0; b < 256; ++b)
        if (cp_of[b] == cp) return b;
    return -1;
  }
};
const ByteAlphabet kAlphabet;

void append_utf8(std::string& s, uint32_t cp) {
  if (cp < 0x80) {
    s += char(cp);
  } else if (cp < 0x800) {
    s += char(0xc0 | (cp >> 6));
    s += char(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    s += char(0xe0 | (cp >> 12));
    s += char(0x80 | ((cp >> 6) & 0x3f));
    s += char(0x80 | (cp & 0x3f));
  } else {
    s += char(0xf0 | (cp >> 18));
    s += char(0x80 | ((cp >> 12) & 0x3f));
    s += char(0x80 | ((cp >> 6) & 0x3f));
    s += char(0x80 | (cp & 0x3f));
  }
}

// Decodes a byte-level token text back to bytes; code points outside the
// alphabet (none in a well-formed vocabulary) are kept as their UTF-8.
std::string alphabet_to_bytes(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    const auto c = uint8_t(text[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (i + size_t(len) > text.size()) len = 1;
    uint32_t cp = len == 1 ? c : c & (0x7fu >> len);
    for (int k = 1; k < len; ++k) cp = (cp << 6) | (uint8_t(text[i + size_t(k)]) & 0x3fu);
    const int b = kAlphabet.byte_of(cp);
    if (b >= 0) out += char(b);
    else out.append(text.substr(i, size_t(len)));
    i += size_t(len);
  }
  return out;
}

std::string_view trim(std::string_view s) {
  const auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string byte_level_symbol(uint8_t byte) {
  std::string s;
  append_utf8(s, kAlphabet.cp_of[byte]);
  return s;
}

Tokenizer Tokenizer::from_gguf(const GgufFile& g) {
  try {
    return from_gguf_metadata(g);
  } catch (const std::bad_alloc&) {
    throw InputError(fmt::format("{}: not enough memory for its vocabulary", g.what));
  }
}

Tokenizer Tokenizer::from_gguf_metadata(const GgufFile& g) {
  const std::string_view model = g.get_string("tokenizer.ggml.model");
  if (model != "gpt2")
    throw InputError(fmt::format("{}: tokenizer.ggml.model is '{}'; only the byte-level BPE ('gpt2') is supported{}",
                                 g.what, model, model == "no_vocab" ? " (this file carries no vocabulary)" : ""));
  // A file that names no pre-tokenizer is taken to use Llama-3's (the only
  // vocabulary BitNet b1.58 2B4T has); one that names another is refused.
  if (g.find("tokenizer.ggml.pre") != nullptr) {
    const std::string_view p = g.get_string("tokenizer.ggml.pre");
    if (p != "llama-bpe" && p != "llama3")
      throw InputError(fmt::format("{}: tokenizer.ggml.pre is '{}'; only the Llama-3 split ('llama-bpe') is supported",
                                   g.what, p));
  }
  const GgufValue& tokens = g.get_array("tokenizer.ggml.tokens", GgufType::String);
  if (tokens.count < 256 || tokens.count > uint64_t(INT32_MAX))
    throw InputError(fmt::format("{}: tokenizer.ggml.tokens has {} tokens", g.what, tokens.count));
  Tokenizer t;
  const size_t n = size_t(tokens.count);
  t.texts_.reserve(n);
  t.pieces_.reserve(n);
  t.special_.assign(n, 0);
  const GgufValue* types = g.find("tokenizer.ggml.token_type");
  if (types != nullptr) {
    const GgufValue& ty = g.get_array("tokenizer.ggml.token_type", GgufType::I32);
    if (ty.count != tokens.count)
      throw InputError(fmt::format("{}: tokenizer.ggml.token_type has {} entries for {} tokens", g.what, ty.count,
                                   tokens.count));
    for (size_t i = 0; i < n; ++i) {
      const int64_t k = ty.int_at(i);
      t.special_[i] = uint8_t(k == kControl || k == kUserDefined);
    }
  }
  for (size_t i = 0; i < n; ++i) {
    t.texts_.emplace_back(tokens.strings[i]);
    t.pieces_.push_back(t.special_[i] ? t.texts_.back() : alphabet_to_bytes(t.texts_.back()));
  }
  for (size_t i = 0; i < n; ++i) {
    t.ids_.emplace(t.texts_[i], int32_t(i));  // a duplicate text keeps its first id
    if (t.special_[i] && !t.texts_[i].empty()) t.specials_.add(t.texts_[i], int32_t(i));
  }
  for (int b = 0; b < 256; ++b) {
    const int32_t id = t.find(byte_level_symbol(uint8_t(b)));
    if (id < 0) throw InputError(fmt::format("{}: the vocabulary has no token for byte 0x{:02x}", g.what, b));
    t.byte_token_[b] = id;
  }
  const GgufValue& merges = g.get_array("tokenizer.ggml.merges", GgufType::String);
  t.merges_.reserve(size_t(merges.count));
  for (size_t r = 0; r < merges.strings.size(); ++r) {
    const std::string_view m = merges.strings[r];
    const size_t sp = m.find(' ', 1);
    if (sp == std::string_view::npos)
      throw InputError(fmt::format("{}: merge {} ('{}') is not two tokens separated by a space", g.what, r, m));
    const int32_t a = t.find(m.substr(0, sp)), b = t.find(m.substr(sp + 1));
    const int32_t ab = t.find(std::string(m.substr(0, sp)) + std::string(m.substr(sp + 1)));
    if (a < 0 || b < 0 || ab < 0)
      throw InputError(fmt::format("{}: merge {} ('{}') names a token the vocabulary lacks", g.what, r, m));
    t.merges_.emplace((uint64_t(uint32_t(a)) << 32) | uint32_t(b), Merge{int32_t(r), ab});  // first rank wins
  }
  // The range is checked on the 64-bit value, before it is narrowed.
  for (auto [id, key] : {std::pair{&t.bos_, "bos"}, std::pair{&t.eos_, "eos"}}) {
    const int64_t v = g.get_int_or(fmt::format("tokenizer.ggml.{}_token_id", key), -1);
    if (v < -1 || v >= int64_t(n))
      throw InputError(fmt::format("{}: tokenizer.ggml.{}_token_id {} is outside the {} tokens", g.what, key, v, n));
    *id = int32_t(v);
  }
  return t;
}

int32_t Tokenizer::find(std::string_view text) const {
  auto it = ids_.find(text);
  return it == ids_.end() ? -1 : it->second;
}

bool Tokenizer::is_special(int32_t id) const { return id >= 0 && size_t(id) < special_.size() && special_[size_t(id)]; }

const std::string& Tokenizer::token_bytes(int32_t id) const {
  if (id < 0 || id >= size())
    throw UsageError(fmt::format("token id {} is outside the vocabulary of {} tokens", id, size()));
  return pieces_[size_t(id)];
}

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
  std::string out;
  for (int32_t id : ids) out += token_bytes(id);
  return out;
}

void Tokenizer::bpe(std::string_view piece, std::vector<int32_t>& out) const {
  std::string mapped;
  for (char c : piece) append_utf8(mapped, kAlphabet.cp_of[uint8_t(c)]);
  if (const int32_t whole = find(mapped); whole >= 0) {
    out.push_back(whole);  // Llama-3 takes a piece that is a token as it is
    return;
  }
  // One symbol per byte, merged pairwise by rank: a doubly linked list over the
  // symbols and a min-heap of candidate pairs (rank, left position), checked
  // against the current symbols when popped.
  const int n = int(piece.size());
  const auto un = static_cast<size_t>(n);
  std::vector<int32_t> id(un), prev(un), next(un);
  for (int i = 0; i < n; ++i) {
    id[size_t(i)] = byte_token_[uint8_t(piece[size_t(i)])];
    prev[size_t(i)] = i - 1;
    next[size_t(i)] = i + 1 < n ? i + 1 : -1;
  }
  struct Cand {
    int32_t rank, left, left_id, right_id;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  std::priority_queue<Cand, std::vector<Cand>, std::greater<>> heap;
  auto consider = [&](int left) {
    if (left < 0 || next[size_t(left)] < 0) return;
    const int right = next[size_t(left)];
    auto it = merges_.find((uint64_t(uint32_t(id[size_t(left)])) << 32) | uint32_t(id[size_t(right)]));
    if (it != merges_.end()) heap.push({it->second.rank, left, id[size_t(left)], id[size_t(right)]});
  };
  for (int i = 0; i + 1 < n; ++i) consider(i);
  while (!heap.empty()) {
    const Cand c = heap.top();
    heap.pop();
    const int right = next[size_t(c.left)];
    if (id[size_t(c.left)] != c.left_id || right < 0 || id[size_t(right)] != c.right_id) continue;  // stale
    id[size_t(c.left)] = merges_.at((uint64_t(uint32_t(c.left_id)) << 32) | uint32_t(c.right_id)).result;
    id[size_t(right)] = -1;
    next[size_t(c.left)] = next[size_t(right)];
    if (next[size_t(right)] >= 0) prev[size_t(next[size_t(right)])] = c.left;
    consider(prev[size_t(c.left)]);
    consider(c.left);
  }
  for (int i = 0; i >= 0; i = next[size_t(i)]) out.push_back(id[size_t(i)]);
}

void SpecialTokenMatcher::add(std::string_view text, int32_t id) {
  size_t node = 0;
  for (char ch : text) {
    int32_t next = child(node, uint8_t(ch));
    if (next < 0) {
      next = int32_t(nodes_.size());
      nodes_.push_back(-1);
      if (node == 0)
        root_[uint8_t(ch)] = next;
      else
        children_.emplace((uint64_t(node) << 8) | uint8_t(ch), next);
    }
    node = size_t(next);
  }
  if (nodes_[node] < 0) nodes_[node] = id;
}

int32_t SpecialTokenMatcher::child(size_t node, uint8_t byte) const {
  if (node == 0) return root_[byte];
  const auto it = children_.find((uint64_t(node) << 8) | byte);
  return it == children_.end() ? -1 : it->second;
}

int32_t SpecialTokenMatcher::longest_at(std::string_view text, size_t pos, size_t* length, uint64_t* steps) const {
  int32_t best = -1;
  size_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    const int32_t next = child(node, uint8_t(text[i]));
    if (steps) ++*steps;
    if (next < 0) break;
    node = size_t(next);
    if (nodes_[node] >= 0) {
      best = nodes_[node];
      *length = i + 1 - pos;
    }
  }
  return best;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_bos, bool parse_special) const {
  return encode_counting(text, add_bos, parse_special, nullptr);
}

std::vector<int32_t> Tokenizer::encode_counting(std::string_view text, bool add_bos, bool parse_special,
                                                uint64_t* special_steps) const {
  std::vector<int32_t> out;
  if (add_bos) {
    if (bos_ < 0) throw InputError("the vocabulary defines no BOS token");
    out.push_back(bos_);
  }
  auto plain = [&](std::string_view s) {
    for (std::string_view p : pretokenize_llama3(s)) bpe(p, out);
  };
  size_t start = 0;
  if (parse_special && !specials_.empty()) {
    // Leftmost, then longest: the trie walk at each position costs at most
    // the longest special token's length, not the number of special tokens.
    for (size_t i = 0; i < text.size();) {
      size_t len = 0;
      const int32_t hit = specials_.longest_at(text, i, &len, special_steps);
      if (hit < 0) {
        ++i;
        continue;
      }
      plain(text.substr(start, i - start));
      out.push_back(hit);
      i += len;
      start = i;
    }
  }
  plain(text.substr(start));
  return out;
}

std::vector<int32_t> chat_prompt(const Tokenizer& tok, std::string_view system, std::string_view user) {
  const int32_t eot = tok.find("<|eot_id|>");
  if (eot < 0) throw InputError("the vocabulary has no <|eot_id|> token for the chat template");
  std::string text;
  if (!trim(system).empty()) text += "System: " + std::string(trim(system)) + "<|eot_id|>";
  text += "User: " + std::string(trim(user)) + "<|eot_id|>Assistant: ";
  return tok.encode(text, /*add_bos=*/true, /*parse_special=*/true);
}

}  // namespace bitlab
