#include "harness/ids_file.h"

#include <charconv>

#include <fmt/format.h>

#include "model/config.h"
#include "model/error.h"
#include "model/weights/mapped_file.h"

namespace bitlab::cli {
namespace {

bool is_separator(char c) { return c == ' ' || c == ',' || c == '\n' || c == '\r' || c == '\t'; }

[[noreturn]] void refuse(IdsSource source, const std::string& message) {
  if (source == IdsSource::Option) throw UsageError(message);
  throw InputError(message);
}

// An item as it may be shown in a one-line message: at most 32 bytes.
std::string shown(std::string_view item) {
  return item.size() <= 32 ? std::string(item) : std::string(item.substr(0, 32)) + "...";
}

}  // namespace

std::vector<int32_t> parse_ids(std::string_view text, const std::string& what, int64_t vocab, IdsSource source) {
  std::vector<int32_t> ids;
  size_t line = 1, i = 0;
  while (i < text.size()) {
    if (is_separator(text[i])) {
      line += text[i] == '\n';
      ++i;
      continue;
    }
    size_t end = i;
    while (end < text.size() && !is_separator(text[end])) ++end;
    const std::string_view item = text.substr(i, end - i);
    const std::string where = fmt::format("{}: id {} (line {})", what, ids.size() + 1, line);
    // Digits only (after an optional '-', to name a negative id as such):
    // "+1", "0x1" or "1e3" are slips, not ids.
    const bool negative = item.front() == '-';
    const std::string_view digits = negative ? item.substr(1) : item;
    uint64_t v = 0;
    const auto [stop, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (digits.empty() || digits.front() < '0' || digits.front() > '9' || stop != digits.data() + digits.size())
      refuse(source, fmt::format("{} is not a decimal integer: '{}'", where, shown(item)));
    if (negative) refuse(source, fmt::format("{} is negative: '{}'", where, shown(item)));
    if (ec == std::errc::result_out_of_range || v > uint64_t(INT64_MAX))
      refuse(source, fmt::format("{} = {} is outside the model's {} tokens", where, shown(item), vocab));
    try {
      ids.push_back(check_token_id(where, "the id", int64_t(v), vocab));
    } catch (const InputError& e) {
      refuse(source, e.what());
    }
    i = end;
  }
  if (ids.empty()) refuse(source, fmt::format("{}: no token ids", what));
  return ids;
}

std::vector<int32_t> read_ids_file(const std::string& path, int64_t vocab) {
  const auto file = MappedFile::open(path);
  if (file->size() > kMaxIdsFileBytes)
    throw InputError(fmt::format("ids file '{}' is {} bytes, more than the {} an id list can need", path, file->size(),
                                 kMaxIdsFileBytes));
  std::string text(file->size(), '\0');
  file->copy(0, text.data(), text.size());
  return parse_ids(text, fmt::format("ids file '{}'", path), vocab, IdsSource::File);
}

std::vector<int32_t> ids_from_options(const std::string& list, const std::string& file, const std::string& option,
                                      int64_t vocab) {
  if (!list.empty()) return parse_ids(list, option, vocab, IdsSource::Option);
  if (!file.empty()) return read_ids_file(file, vocab);
  return {};
}

}  // namespace bitlab::cli
