// The Llama-3 pre-tokenizer split (see tokenizer.h for the pattern), as a
// scanner over code points. Unicode classes come from utf8proc's category
// table: \p{L} = Lu Ll Lt Lm Lo, \p{N} = Nd Nl No, \s = White_Space
// (U+0009..U+000D, U+0020, U+0085, and the Zs, Zl, Zp categories).
#include <utf8proc.h>

#include "model/tokenizer.h"

namespace bitlab {

namespace {

constexpr int32_t kInvalid = -1;  // a byte that does not start valid UTF-8

struct Cp {
  int32_t cp;
  int len;  // bytes
};

Cp decode_at(std::string_view s, size_t i) {
  utf8proc_int32_t cp = 0;
  const auto n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + i),
                                  utf8proc_ssize_t(s.size() - i), &cp);
  if (n <= 0) return {kInvalid, 1};
  return {cp, int(n)};
}

bool is_letter(int32_t cp) {
  if (cp < 0) return false;
  if (cp < 128) return (cp | 32) >= 'a' && (cp | 32) <= 'z';
  const auto c = utf8proc_category(cp);
  return c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO;
}

bool is_number(int32_t cp) {
  if (cp < 0) return false;
  if (cp < 128) return cp >= '0' && cp <= '9';
  const auto c = utf8proc_category(cp);
  return c == UTF8PROC_CATEGORY_ND || c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_NO;
}

bool is_space(int32_t cp) {
  if (cp < 0) return false;
  if (cp == ' ' || (cp >= 0x09 && cp <= 0x0d) || cp == 0x85) return true;
  if (cp < 128) return false;
  const auto c = utf8proc_category(cp);
  return c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP;
}

bool is_newline(int32_t cp) { return cp == '\r' || cp == '\n'; }
bool is_other(int32_t cp) { return !is_space(cp) && !is_letter(cp) && !is_number(cp); }  // [^\s\p{L}\p{N}]

char lower_ascii(char c) { return (c >= 'A' && c <= 'Z') ? char(c + 32) : c; }

// Length of the contraction at i ('s 't 're 've 'm 'll 'd, any case), or 0.
size_t contraction(std::string_view s, size_t i) {
  if (s[i] != '\'' || i + 1 >= s.size()) return 0;
  const char a = lower_ascii(s[i + 1]);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (i + 2 >= s.size()) return 0;
  const char b = lower_ascii(s[i + 2]);
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

// End of the longest run of code points matching `pred` from i, at most `max` of them.
template <class Pred>
size_t run_end(std::string_view s, size_t i, Pred pred, size_t max = SIZE_MAX) {
  size_t count = 0;
  while (i < s.size() && count < max) {
    const Cp c = decode_at(s, i);
    if (!pred(c.cp)) break;
    i += size_t(c.len);
    ++count;
  }
  return i;
}

// End of the piece that starts at i.
size_t piece_end(std::string_view s, size_t i) {
  const size_t n = s.size();
  if (const size_t c = contraction(s, i)) return i + c;
  const Cp c = decode_at(s, i);
  const size_t next = i + size_t(c.len);
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (is_letter(c.cp)) return run_end(s, next, is_letter);
  if (!is_newline(c.cp) && !is_number(c.cp) && next < n && is_letter(decode_at(s, next).cp))
    return run_end(s, next, is_letter);
  // \p{N}{1,3}
  if (is_number(c.cp)) return run_end(s, i, is_number, 3);
  //  ?[^\s\p{L}\p{N}]+[\r\n]*
  const size_t j = c.cp == ' ' ? next : i;
  if (j < n && is_other(decode_at(s, j).cp)) return run_end(s, run_end(s, j, is_other), is_newline);
  if (is_space(c.cp)) {
    const size_t e = run_end(s, i, is_space);
    // \s*[\r\n]+ : up to and including the last newline of the run.
    size_t last_nl = SIZE_MAX, last_start = i;
    for (size_t k = i; k < e;) {
      const Cp d = decode_at(s, k);
      if (is_newline(d.cp)) last_nl = k;
      last_start = k;
      k += size_t(d.len);
    }
    if (last_nl != SIZE_MAX) return last_nl + 1;
    // \s+(?!\S) : the whole run at the end of the text, else all but its last
    // code point (which then joins the next piece); \s+ : a single space.
    if (e == n || last_start == i) return e;
    return last_start;
  }
  return next;  // not reached for valid patterns; one code point keeps the scan moving
}

}  // namespace

std::vector<std::string_view> pretokenize_llama3(std::string_view text) {
  std::vector<std::string_view> out;
  for (size_t i = 0; i < text.size();) {
    const size_t e = piece_end(text, i);
    out.push_back(text.substr(i, e - i));
    i = e;
  }
  return out;
}

}  // namespace bitlab
