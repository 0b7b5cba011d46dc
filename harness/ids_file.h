// Token id lists given by hand (--prompt-ids 1,2,3) or in a file (--prompt-ids-file,
// --ids-file): ids separated by spaces, commas or newlines, each a decimal
// integer inside the model's vocabulary. The same ids can then be fed to this
// lab and to another engine, so their logits are compared on identical input.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace bitlab::cli {

// Largest id file read: far above any model's positions written as text (a
// 4096-id sequence is about 30 KB), small enough to hold in memory at once.
inline constexpr uint64_t kMaxIdsFileBytes = uint64_t(16) << 20;

// Where a list comes from decides how a bad one is reported: a command-line
// value is bad usage (UsageError, exit 2), a file's contents bad input
// (InputError, exit 1).
enum class IdsSource { Option, File };

// Parses `text`; `what` names its source in messages (the option or the file).
// Refuses an empty list, an item that is not a non-negative decimal integer,
// one that overflows, and an id outside [0, vocab), naming the item's number
// and line.
std::vector<int32_t> parse_ids(std::string_view text, const std::string& what, int64_t vocab, IdsSource source);

// Reads and parses the id file at `path` (a regular file of at most
// kMaxIdsFileBytes, read through MappedFile).
std::vector<int32_t> read_ids_file(const std::string& path, int64_t vocab);

// The ids of whichever of `--<name>` (a list) or `--<name>-file` (a path) is
// given; empty when neither is.
std::vector<int32_t> ids_from_options(const std::string& list, const std::string& file, const std::string& option,
                                      int64_t vocab);

}  // namespace bitlab::cli
