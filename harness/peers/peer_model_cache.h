// The lab's weights in a peer's GGUF dialect, exported once and kept: the
// file's name carries the weights' digest, the format and the vocabulary's
// digest, so a later bench with the same weights reuses it and any change
// makes a new one.
#pragma once
#include <string>

#include "model/weights/canonical.h"

namespace bitlab::peers {

// $XDG_CACHE_HOME/bitlab/peers, else ~/.cache/bitlab/peers, else
// results/peer-cache (no home: a container).
std::string default_peer_cache_dir();

// The exported model's path for `format`, writing it first where it is not
// in `cache_dir` yet (through a temporary and a rename: an interrupted export
// leaves no file that looks finished). `vocab`: a GGUF whose tokenizer the
// export carries, or "".
std::string peer_model(const ModelWeights& w, const std::string& format, const std::string& vocab,
                       const std::string& cache_dir);

}  // namespace bitlab::peers
