// The Llama-3 byte-level BPE tokenizer (BitNet b1.58 2B4T's), read from GGUF
// metadata: tokenizer.ggml.tokens / token_type / merges, bos/eos ids.
//
// encode(): special tokens (control and user-defined types, e.g.
// "<|eot_id|>") are cut out of the text first; each stretch between them is
// split by the Llama-3 pre-tokenizer pattern (pretokenize_llama3), each piece
// mapped byte by byte to the GPT-2 "byte-level" alphabet, and then either
// looked up whole (Llama-3 ignores merges for pieces that are tokens) or merged
// pair by pair in merge-rank order. decode() maps the alphabet back to bytes.
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace bitlab {

class GgufFile;

// The Llama-3 pre-tokenizer split, written out by hand (no regex engine):
//   (?i:'s|'t|'re|'ve|'m|'ll|'d) | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N}{1,3}
//   | ?[^\s\p{L}\p{N}]+[\r\n]* | \s*[\r\n]+ | \s+(?!\S) | \s+
// Returns the pieces in order; they concatenate to `text`. Bytes that are not
// valid UTF-8 count as one symbol each, of no letter/number/space class.
std::vector<std::string_view> pretokenize_llama3(std::string_view text);

// GPT-2's byte-level alphabet, in which byte-level BPE vocabularies spell
// their tokens: the UTF-8 text of the symbol that stands for `byte` (printable
// bytes stand for themselves; "\xc4\xa0" (U+0120) stands for a space).
std::string byte_level_symbol(uint8_t byte);

// Finds special tokens in text: a byte trie of their texts, so finding the
// longest one at a position costs at most the length of the longest special
// token, however many there are (a vocabulary may make every token special).
class SpecialTokenMatcher {
 public:
  SpecialTokenMatcher() : nodes_(1, -1) { root_.fill(-1); }
  // A duplicate text keeps its first id.
  void add(std::string_view text, int32_t id);
  bool empty() const { return nodes_.size() == 1; }
  // The id of the longest special token that `text` has at `pos`, and its
  // length; -1 if none. Adds the trie nodes it visits to *steps when given.
  int32_t longest_at(std::string_view text, size_t pos, size_t* length, uint64_t* steps = nullptr) const;

 private:
  int32_t child(size_t node, uint8_t byte) const;
  std::vector<int32_t> nodes_;                     // token id ending at each node, or -1; node 0 is the root
  // The root's children by first byte: most text bytes start no special token,
  // and this answers them without hashing. Deeper nodes' children are hashed.
  std::array<int32_t, 256> root_;
  std::unordered_map<uint64_t, int32_t> children_;  // (node << 8 | byte) -> child node, for node > 0
};

class Tokenizer {
 public:
  // Throws InputError naming the key when the metadata is missing or broken.
  static Tokenizer from_gguf(const GgufFile& g);
  // Movable, not copyable: the lookup table holds views into the token texts.
  Tokenizer(Tokenizer&&) = default;
  Tokenizer& operator=(Tokenizer&&) = default;
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // With `parse_special` false, "<|eot_id|>" in the text is plain text.
  std::vector<int32_t> encode(std::string_view text, bool add_bos = false, bool parse_special = true) const;
  // encode, also counting the trie nodes the special-token search visited.
  std::vector<int32_t> encode_counting(std::string_view text, bool add_bos, bool parse_special,
                                       uint64_t* special_steps) const;
  // The bytes of the tokens, concatenated; may end inside a UTF-8 character.
  std::string decode(std::span<const int32_t> ids) const;
  const std::string& token_bytes(int32_t id) const;

  int64_t size() const { return int64_t(pieces_.size()); }
  int32_t bos() const { return bos_; }
  int32_t eos() const { return eos_; }
  // Id of a token by its text in the vocabulary ("<|eot_id|>"), or -1.
  int32_t find(std::string_view token_text) const;
  bool is_special(int32_t id) const;

 private:
  static Tokenizer from_gguf_metadata(const GgufFile& g);
  void bpe(std::string_view piece, std::vector<int32_t>& out) const;
  std::vector<std::string> texts_;   // as stored: byte-level alphabet, or special text
  std::vector<std::string> pieces_;  // decoded bytes per token
  std::vector<uint8_t> special_;     // 1 for control / user-defined tokens
  std::unordered_map<std::string_view, int32_t> ids_;  // views into texts_
  struct Merge {
    int32_t rank, result;
  };
  std::unordered_map<uint64_t, Merge> merges_;  // (left id << 32 | right id)
  int32_t byte_token_[256] = {};                // token of each byte's alphabet symbol
  SpecialTokenMatcher specials_;
  int32_t bos_ = -1, eos_ = -1;
  Tokenizer() = default;
};

// BitNet b1.58 2B4T's chat template (tokenizer_config.json of the release):
// BOS, then "System: {system}<|eot_id|>" when a system prompt is given, then
// "User: {user}<|eot_id|>Assistant: "; contents are trimmed of whitespace.
std::vector<int32_t> chat_prompt(const Tokenizer& tok, std::string_view system, std::string_view user);

}  // namespace bitlab
